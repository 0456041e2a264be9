"""Networking helpers the stand-ins and the tests share."""
import socket


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on at `host` right now (the kernel's pick; free until someone binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
