"""playbooks/harden.yml (the security role) against two sandbox hosts: a load balancer and an app host, then the
load balancer's site with HTTPS (deploy_backend.yml limited to it, backend_tls: true; no chat service runs behind it).

Checked from the controller, as a client would see the hosts: TLS on 443 with the environment's CA (and only with it),
the security headers, port 80's redirect to HTTPS, no TLS 1.1, the firewall (a listener on a port nobody opened is
not reachable, 443 and SSH are), sshd without passwords, a second run that changes nothing, a bad port refused by nft
before anything is installed, no private key in a -vvv run's output, and last the ACME path against pebble (Let's
Encrypt's ACME test server) validating over port 80. The app hosts' HTTPS, with the service behind it:
test_monitoring.py. The tests run in order and share the hosts.
"""
import json
import re
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, run_playbook
from sandbox.common.net import free_port
from sandbox.hosts import Hosts

PREFIX, SUBNET = "tbs", "10.83.0"  # no other test's hosts
HARDEN = ROOT / "playbooks" / "harden.yml"
DEPLOY = ROOT / "playbooks" / "deploy_backend.yml"
def host_vars(host):
    return {"ansible_host": host["address"], "ansible_user": "root", "ansible_ssh_private_key_file": host["key"],
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("security")
    hosts = Hosts(work / "hosts", ROOT / ".cache" / "sandbox", prefix=PREFIX, subnet=SUBNET)
    try:
        lb, app = hosts.up(2)
        ca_dir = work / "ca"
        inventory = work / "inventory.json"
        inventory.write_text(json.dumps({
            "all": {"vars": {"security_ca_dir": str(ca_dir), "security_environment": "test"}},
            "backend": {"hosts": {app["name"]: host_vars(app)}},
            "loadbalancer": {"hosts": {lb["name"]: host_vars(lb)}},
        }))
        yield {"hosts": hosts, "lb": lb, "app": app, "inventory": inventory, "ca": ca_dir / "ca.crt",
               "ca_key": ca_dir / "ca.key", "work": work}
    finally:
        hosts.down()


def harden(world, extra=None, verbosity=0):
    return run_playbook(HARDEN, inventory=world["inventory"], extra_vars=extra, verbosity=verbosity)


def recap(proc):
    totals = {}
    for name, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        totals[name] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return totals


def on(world, host, command, check=False):
    return world["hosts"].ssh(world[host], command, check=check)


def tls_context(cafile=None, **versions):
    context = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    for key, value in versions.items():
        setattr(context, key, value)
    return context


def handshake(address, context, port=443, server_hostname=None):
    with socket.create_connection((address, port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname=server_hostname or address) as tls:
            return tls.version(), tls.getpeercert()


def reachable(address, port, timeout=3):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def hardened(world):
    """The first run, and what a listener on a port nobody opened answers before it (on the lb host)."""
    # socketserver's TCPServer, not http.server's: that one looks up the host's FQDN, which hangs without DNS
    serve = ("import socketserver, http.server; "
             "socketserver.TCPServer(('0.0.0.0', 5555), http.server.SimpleHTTPRequestHandler).serve_forever()")
    on(world, "lb", "systemd-run --unit=probe5555 --working-directory=/tmp python3 -c \"%s\"" % serve, check=True)
    deadline = time.monotonic() + 10
    while not reachable(world["lb"]["address"], 5555) and time.monotonic() < deadline:
        time.sleep(0.2)
    before = reachable(world["lb"]["address"], 5555)
    proc = harden(world)
    assert proc.returncode == 0, proc.stdout[-6000:]
    site = run_playbook(DEPLOY, inventory=world["inventory"], extra_vars={"backend_tls": True}, limit="loadbalancer")
    assert site.returncode == 0, site.stdout[-6000:]
    return {"proc": proc, "port_5555_before": before}


def test_tls_with_the_environments_ca(world, hardened):
    address = world["lb"]["address"]
    version, cert = handshake(address, tls_context(cafile=str(world["ca"])))
    assert version in ("TLSv1.2", "TLSv1.3")
    sans = cert["subjectAltName"]
    assert ("IP Address", address) in sans and ("DNS", world["lb"]["name"]) in sans, sans
    # the system's trust store does not know the environment's CA
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(address, tls_context())
    # the CA reached the hosts' trust store: the app host verifies the load balancer's certificate with its default
    # store, and its own certificate was signed by the CA too
    script = ("import socket, ssl; s = ssl.create_default_context().wrap_socket(socket.create_connection(('%s', 443)),"
              " server_hostname='%s'); print(s.version())" % (address, address))
    assert on(world, "app", "python3 -c \"%s\"" % script).stdout.strip().startswith("TLSv1.")
    assert on(world, "app", "openssl verify /etc/ssl/textbook/%s.crt" % world["app"]["name"]).returncode == 0


def test_security_headers_and_redirect(world, hardened):
    address = world["lb"]["address"]
    # no chat service behind the load balancer here (the app host's stock nginx site answers 404): an error carries
    # the headers too (`always`)
    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen("https://%s/readyz" % address, timeout=10, context=tls_context(cafile=str(world["ca"])))
    assert not_found.value.code == 404
    headers = not_found.value.headers
    assert headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"]

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(NoRedirect).open("http://%s/some/path?x=1" % address, timeout=10)
    assert answer.value.code == 301
    assert answer.value.headers["Location"] == "https://%s/some/path?x=1" % address
    # port 80 still answers the load balancer's health and ACME's challenges (the role's probe file) itself
    with urllib.request.urlopen("http://%s/lb-health" % address, timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen("http://%s/.well-known/acme-challenge/no-such-token" % address, timeout=10)
    assert missing.value.code == 404


def test_tls_1_1_is_refused(world, hardened):
    address = world["lb"]["address"]
    old = tls_context(cafile=str(world["ca"]))
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # so the client does offer TLS 1.1 and the refusal is the server's
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError) as refused:
        handshake(address, old)
    assert "PROTOCOL_VERSION" in str(refused.value).upper(), refused.value
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    assert handshake(address, old)[0] == "TLSv1.2"


def test_firewall(world, hardened):
    lb = world["lb"]["address"]
    assert hardened["port_5555_before"], "the probe listener on 5555 did not answer before the firewall"
    assert on(world, "lb", "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:5555/')\"",
              ).returncode == 0, "the probe listener is not running"
    assert not reachable(lb, 5555)
    assert reachable(lb, 443) and reachable(lb, 22) and reachable(lb, 80)
    ruleset = on(world, "lb", "nft list ruleset", check=True).stdout
    assert "policy drop" in ruleset
    assert on(world, "lb", "systemctl is-enabled nftables").stdout.strip() == "enabled"
    # a new SSH session (the controller is not locked out)
    assert on(world, "app", "true").returncode == 0


def test_ssh_hardened(world, hardened):
    settings = on(world, "app", "sshd -T", check=True).stdout.lower().splitlines()
    assert "passwordauthentication no" in settings
    assert "kbdinteractiveauthentication no" in settings
    assert "x11forwarding no" in settings
    assert "maxauthtries 3" in settings
    assert "permitrootlogin without-password" in settings  # sshd -T's name for prohibit-password
    assert any(line.startswith("kexalgorithms sntrup761x25519") for line in settings)
    # a password is refused before it is asked for: publickey is all the server offers
    out = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "PreferredAuthentications=password",
                          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "root@%s" % world["app"]["address"], "true"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "publickey" in out.stderr and "password" not in out.stderr.split("(")[-1], out.stderr


def test_keys_are_private(world, hardened):
    assert on(world, "app", "stat -c '%a %U' /etc/ssl/private/textbook.key", check=True).stdout.split() == [
        "600", "root"]
    assert oct(world["ca_key"].stat().st_mode & 0o777) == "0o600"


def test_second_run_changes_nothing(world, hardened):
    ca_before = world["ca"].read_bytes()
    proc = harden(world)
    assert proc.returncode == 0, proc.stdout[-6000:]
    totals = recap(proc)
    assert totals and all(counts["changed"] == 0 for counts in totals.values()), proc.stdout[-6000:]
    assert world["ca"].read_bytes() == ca_before


def test_renewal_when_due(world, hardened):
    before = handshake(world["lb"]["address"], tls_context(cafile=str(world["ca"])))[1]
    proc = harden(world, extra={"security_cert_renew_days": 399, "security_cert_valid_days": 400})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert recap(proc)[world["lb"]["name"]]["changed"] > 0
    # nginx serves the new certificate (reloaded by the role)
    after = handshake(world["lb"]["address"], tls_context(cafile=str(world["ca"])))[1]
    assert after["serialNumber"] != before["serialNumber"]


def test_bad_port_is_refused_before_anything_is_installed(world, hardened):
    before = {host: on(world, host, "md5sum /etc/nftables.conf /etc/nginx/snippets/textbook-tls.conf "
                                    "/etc/ssh/sshd_config.d/10-textbook.conf", check=True).stdout
              for host in ("lb", "app")}
    proc = harden(world, extra={"security_allowed_ports": {"backend": [80, "80a"], "loadbalancer": [80, 443]},
                                "security_hsts_max_age": 60, "security_firewall_enabled": True})
    assert proc.returncode != 0
    assert "nft refused the firewall rules" in proc.stdout
    assert "80a" in proc.stdout and "Error:" in proc.stdout, proc.stdout[-4000:]  # nft's own message
    for host in ("lb", "app"):
        assert on(world, host, "md5sum /etc/nftables.conf /etc/nginx/snippets/textbook-tls.conf "
                               "/etc/ssh/sshd_config.d/10-textbook.conf", check=True).stdout == before[host]
    assert recap(proc)[world["lb"]["name"]]["changed"] == 0


def test_no_private_key_at_vvv(world, hardened):
    proc = harden(world, verbosity=3)
    assert proc.returncode == 0, proc.stdout[-6000:]
    ca_key = world["ca_key"].read_text()
    host_key = on(world, "app", "cat /etc/ssl/private/textbook.key", check=True).stdout
    assert "PRIVATE KEY" in ca_key and "PRIVATE KEY" in host_key
    for key in (ca_key, host_key):
        lines = key.strip().splitlines()[1:-1]
        # every line but the last, which holds only the end of the public point (printed, rightly, with the CSR)
        for line in lines[:-1]:
            assert line not in proc.stdout
        assert "".join(lines) not in proc.stdout.replace("\\n", "").replace("\n", "")
    assert "PRIVATE KEY-----" not in proc.stdout


# --- ACME, against pebble ---------------------------------------------------------------------------------------

def write_tls_pair(directory, address):
    """A throwaway CA and a certificate for `address` it signed (pebble's own HTTPS listener); returns the paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, key, signing_key, ca, san=None):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    name = lambda text: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])  # noqa: E731
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate(name("pebble listener CA"), name("pebble listener CA"), ca_key, ca_key, True)
    cert = certificate(name(address), ca.subject, key, ca_key, False,
                       [x509.IPAddress(ipaddress.ip_address(address))])
    paths = {kind: directory / ("%s.pem" % kind) for kind in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


def wait_for(url, context, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def pebble(world):
    """pebble with its DNS from pebble-challtestsrv, which answers every name with the load balancer's address:
    pebble validates http-01 challenges by fetching http://<name>/.well-known/acme-challenge/<token> from it."""
    work = world["work"] / "pebble"
    work.mkdir()
    tls = write_tls_pair(work, "127.0.0.1")
    dns, api, management, challenges = free_port(), free_port(), free_port(), free_port()
    config = work / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": "127.0.0.1:%d" % api, "managementListenAddress": "127.0.0.1:%d" % management,
        "certificate": str(tls["cert"]), "privateKey": str(tls["key"]), "httpPort": 80, "tlsPort": 443,
        "ocspResponderURL": "", "externalAccountBindingRequired": False}}))
    log = (work / "pebble.log").open("w")
    processes = [
        subprocess.Popen(["pebble-challtestsrv", "-defaultIPv4", world["lb"]["address"], "-defaultIPv6", "",
                          "-dns01", "127.0.0.1:%d" % dns, "-http01", "", "-https01", "", "-tlsalpn01", "",
                          "-management", "127.0.0.1:%d" % challenges], stdout=log, stderr=subprocess.STDOUT),
        subprocess.Popen(["pebble", "-config", str(config), "-dnsserver", "127.0.0.1:%d" % dns],
                         stdout=log, stderr=subprocess.STDOUT,
                         env={"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}),
    ]
    try:
        context = tls_context(cafile=str(tls["ca"]))
        directory = "https://127.0.0.1:%d/dir" % api
        wait_for(directory, context)
        root = work / "pebble-root.pem"
        root.write_bytes(wait_for("https://127.0.0.1:%d/roots/0" % management, context))
        yield {"directory": directory, "listener_ca": tls["ca"], "root": root, "log": work / "pebble.log"}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        log.close()


def test_acme_host_without_a_challenge_site_keeps_a_self_signed_certificate(world, hardened, pebble):
    """The bootstrap: an ACME host with no certificate whose port 80 does not answer challenges yet (the app host
    here serves Debian's stock site) gets a self-signed certificate for a day, is noted as pending, and the CA is not
    asked (pebble would refuse: its DNS sends every name to the load balancer)."""
    app = world["app"]
    on(world, "app", "rm /etc/ssl/textbook/%s.crt" % app["name"], check=True)
    extra = {"security_certificate_provider": "acme", "security_acme_directory": pebble["directory"],
             "security_acme_email": "ops@textbook.test", "security_cert_names": ["app.textbook.test"]}
    proc = run_playbook(HARDEN, inventory=world["inventory"], extra_vars=extra, limit="backend", verbosity=1,
                        env={"SSL_CERT_FILE": str(pebble["listener_ca"])})
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "does not answer ACME challenges on port 80 yet" in proc.stdout
    assert "security_acme_pending: true" in proc.stdout  # ansible.cfg: results as YAML
    assert re.search(r"Ask the ACME CA for a challenge\] \**\nskipping: ", proc.stdout), proc.stdout[-6000:]
    cert = on(world, "app", "openssl x509 -noout -subject -issuer -ext subjectAltName -checkend 90000 -in "
                            "/etc/ssl/textbook/%s.crt" % app["name"]).stdout
    subject, issuer = (line.split("=", 1)[1].strip() for line in cert.splitlines()[:2])
    assert subject == issuer and "app.textbook.test" in subject, cert  # self-signed, for the name
    assert "DNS:app.textbook.test" in cert and "will expire" in cert, cert  # and for a day only


def test_acme_certificate_from_pebble(world, hardened, pebble):
    name = "lb.textbook.test"
    extra = {"security_certificate_provider": "acme", "security_acme_directory": pebble["directory"],
             "security_acme_email": "ops@textbook.test", "security_cert_names": [name]}
    # the controller trusts pebble's listener for the run (the ACME modules run there)
    env = {"SSL_CERT_FILE": str(pebble["listener_ca"])}
    proc = run_playbook(HARDEN, inventory=world["inventory"], extra_vars=extra, env=env, limit="loadbalancer")
    assert proc.returncode == 0, proc.stdout[-6000:] + pebble["log"].read_text()[-3000:]
    assert "does not answer ACME challenges" not in proc.stdout
    # nginx serves the chain pebble issued for the name: its root verifies it, the environment's CA does not
    version, cert = handshake(world["lb"]["address"], tls_context(cafile=str(pebble["root"])), server_hostname=name)
    assert ("DNS", name) in cert["subjectAltName"]
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(world["lb"]["address"], tls_context(cafile=str(world["ca"])), server_hostname=name)
    # pebble validated over port 80: its log shows the challenge fetched from the load balancer
    assert "acme-challenge" in pebble["log"].read_text()

    again = run_playbook(HARDEN, inventory=world["inventory"], extra_vars=extra, env=env, limit="loadbalancer")
    assert again.returncode == 0, again.stdout[-6000:]
    assert recap(again)[world["lb"]["name"]]["changed"] == 0, again.stdout[-6000:]
