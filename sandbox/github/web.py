"""The small HTTP layer shared by the stand-in's two servers (API + git, and the Pages host).

Every response closes its connection (`Connection: close`): the body of a streamed response then needs neither
a length nor chunked encoding, and nothing lingers after `stop()`. Clients do not depend on keep-alive.
"""
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 64 * 1024


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address, handler_class, app):
        self.app = app
        self._open = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler_class)

    def get_request(self):
        sock, address = super().get_request()
        with self._open_lock:
            self._open.add(sock)
        return sock, address

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_all(self):
        """Stop serving and cut connections still in progress (a stopped GitHub answers nobody)."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        # A client that hangs up mid-response is normal (git does it); anything else is a bug worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # needed for `Expect: 100-continue`, which git sends with large pushes
    server_version = "GitHub.com"
    sys_version = ""
    timeout = 300

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def dispatch(self):
        raise NotImplementedError

    @property
    def app(self):
        return self.server.app

    def body_chunks(self):
        """Yield the request body as it arrives (Content-Length or chunked), without holding it whole."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield from self._read_exactly(size)
                self.rfile.readline(3)
        else:
            yield from self._read_exactly(int(self.headers.get("Content-Length") or 0))

    def _read_exactly(self, remaining):
        while remaining > 0:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            remaining -= len(data)
            yield data

    def read_body(self):
        return b"".join(self.body_chunks())

    def send(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=()):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def send_json(self, status, data, headers=()):
        body = b"" if data is None else json.dumps(data, indent=2).encode()
        self.send(status, body, "application/json; charset=utf-8" if body else None, headers)

    def send_stream(self, status, headers, chunks):
        """Send a response whose length is unknown up front: the closed connection marks its end."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for chunk in chunks:
            if self.command != "HEAD":
                self.wfile.write(chunk)
