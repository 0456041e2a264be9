"""nginx_site on configuration files in a temporary directory, run as Ansible runs it.

There is no nginx here: `validate` and `reload_command` are small sh scripts that log each run to a file in
tmp_path, copy the file they see, and pass or fail on what is on disk.
"""
import os
import shlex
import stat
import time

import pytest

from conftest import run_module
from test_health_gate import closed_port, serve  # noqa: F401 (fixtures)

MODULE = "nginx_site"
OLD = "server {\n    listen 8080;\n    location / { proxy_pass http://127.0.0.1:9001; }\n}\n"
NEW = "server {\n    listen 8080;\n    location / { proxy_pass http://127.0.0.1:9002; }\n}\n"
BROKEN = "server {\n    location / { proxy_pass http://127.0.0.1:9002; }\n"  # no `listen`: the check rejects it


class Site:
    """A conf.d directory, the site's path in it, and the commands' logs."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "conf.d"
        self.dir.mkdir()
        self.path = self.dir / "chat-api.conf"
        self.log = tmp_path / "commands.log"  # one line per validate or reload run
        self.seen_by_validate = tmp_path / "seen-by-validate"
        self.seen_by_reload = tmp_path / "seen-by-reload"

    def validate(self, passes_if="grep -q listen"):
        """A check that logs itself, copies the file it sees, then runs `passes_if <path>`."""
        path, log, seen = (shlex.quote(str(p)) for p in (self.path, self.log, self.seen_by_validate))
        return ["sh", "-c", "echo validate >> %s; cp %s %s; echo 'nginx: [emerg] no listen' >&2; %s %s"
                % (log, path, seen, passes_if, path)]

    def reload(self, rc=0):
        path, log, seen = (shlex.quote(str(p)) for p in (self.path, self.log, self.seen_by_reload))
        return ["sh", "-c", "echo reload >> %s; cp %s %s; echo 'reload refused by the test' >&2; exit %d"
                % (log, path, seen, rc)]

    def run(self, content, check=False, diff=False, **args):
        args.setdefault("validate", self.validate())
        args.setdefault("reload_command", self.reload())
        return run_module(MODULE, dict(path=str(self.path), content=content, **args), check=check, diff=diff)

    def runs(self):
        """The commands run so far, in order."""
        return self.log.read_text().split() if self.log.exists() else []

    def mode(self):
        return stat.S_IMODE(os.stat(self.path).st_mode)

    def leftovers(self):
        return [name for name in os.listdir(self.dir) if name.startswith(".chat-api.conf.")]

    def existing(self, content, mode=0o644):
        """A file as an earlier deploy left it (bytes exactly as given)."""
        self.path.write_bytes(content.encode() if isinstance(content, str) else content)
        os.chmod(self.path, mode)


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


def test_first_write_creates_the_file_0644_checks_the_new_content_and_reloads_once(site):
    started = time.time()
    result = site.run(NEW)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["reloaded"] is True
    assert started <= result["reloaded_at"] <= time.time()  # when the reload ended, for a canary window's start
    assert site.path.read_text() == NEW
    assert site.mode() == 0o644
    assert site.runs() == ["validate", "reload"]
    assert site.seen_by_validate.read_text() == NEW  # the check ran with the new file in place
    assert site.seen_by_reload.read_text() == NEW
    assert os.listdir(site.dir) == ["chat-api.conf"]


def test_a_custom_mode_is_applied(site):
    result = site.run(NEW, mode="0640")
    assert result["changed"] is True and result["reloaded"] is True
    assert site.mode() == 0o640
    assert site.path.read_text() == NEW


def test_replacing_an_existing_file_checks_the_new_content(site):
    site.existing(OLD)
    result = site.run(NEW)
    assert result["changed"] is True and result["reloaded"] is True
    assert site.path.read_text() == NEW and site.mode() == 0o644
    assert site.seen_by_validate.read_text() == NEW
    assert site.runs() == ["validate", "reload"]
    assert site.leftovers() == []


def test_the_same_content_and_mode_again_is_a_no_op_and_runs_nothing(site):
    assert site.run(NEW, mode="0640")["changed"] is True
    inode, mtime = os.stat(site.path).st_ino, os.stat(site.path).st_mtime_ns
    site.log.unlink()
    again = site.run(NEW, mode="0640")
    assert again.get("failed") is not True, again.get("msg")
    assert again["changed"] is False and again["reloaded"] is False
    assert site.runs() == []
    assert os.stat(site.path).st_ino == inode and os.stat(site.path).st_mtime_ns == mtime  # not rewritten
    assert site.mode() == 0o640 and site.path.read_text() == NEW


def test_a_changed_mode_alone_is_a_change(site):
    site.existing(NEW, mode=0o600)
    result = site.run(NEW)
    assert result["changed"] is True and result["reloaded"] is True
    assert site.mode() == 0o644 and site.path.read_text() == NEW
    assert site.runs() == ["validate", "reload"]


def test_check_mode_reports_a_new_file_but_writes_and_runs_nothing(site):
    result = site.run(NEW, check=True)
    assert result["changed"] is True and result["reloaded"] is False
    assert not site.path.exists()
    assert site.runs() == []
    assert os.listdir(site.dir) == []


def test_check_mode_reports_a_change_but_leaves_the_file_alone(site):
    site.existing(OLD, mode=0o600)
    result = site.run(NEW, check=True)
    assert result["changed"] is True and result["reloaded"] is False
    assert site.path.read_text() == OLD and site.mode() == 0o600
    assert site.runs() == []


def test_check_mode_on_an_unchanged_file_reports_no_change(site):
    site.existing(NEW)
    result = site.run(NEW, check=True)
    assert result["changed"] is False and result["reloaded"] is False


def test_diff_mode_returns_before_and_after(site):
    site.existing(OLD)
    result = site.run(NEW, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == OLD and result["diff"]["after"] == NEW
    assert result["diff"]["before_header"] == result["diff"]["after_header"] == str(site.path)


def test_diff_of_a_new_file_in_check_mode_has_an_empty_before(site):
    result = site.run(NEW, check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == "" and result["diff"]["after"] == NEW
    assert not site.path.exists() and site.runs() == []


def test_no_diff_without_diff_mode(site):
    assert "diff" not in site.run(NEW)


def test_a_failed_check_puts_the_previous_file_back_and_does_not_reload(site):
    previous = OLD + "# a comment without a trailing newline"
    site.existing(previous, mode=0o640)
    result = site.run(BROKEN)
    assert result["failed"] is True and result["reloaded"] is False
    assert "nginx: [emerg] no listen" in result["msg"]  # the command's stderr
    assert "put back" in result["msg"] and str(site.path) in result["msg"]
    assert result["rc"] == 1
    assert site.seen_by_validate.read_text() == BROKEN  # the check saw the new file ...
    assert site.path.read_text() == previous  # ... and the previous one is back, exactly
    assert site.mode() == 0o640
    assert site.runs() == ["validate"]
    assert site.leftovers() == []


def test_a_failed_check_of_a_new_file_removes_it(site):
    result = site.run(BROKEN)
    assert result["failed"] is True and result["reloaded"] is False
    assert "nginx: [emerg] no listen" in result["msg"] and "put back" in result["msg"]
    assert site.seen_by_validate.read_text() == BROKEN
    assert not site.path.exists()
    assert os.listdir(site.dir) == []
    assert site.runs() == ["validate"]


def test_a_failed_reload_puts_the_previous_file_back(site):
    site.existing(OLD)
    result = site.run(NEW, reload_command=site.reload(rc=3))
    assert result["failed"] is True and result["reloaded"] is False
    assert result["rc"] == 3
    assert "reload refused by the test" in result["msg"] and "put back" in result["msg"]
    assert site.seen_by_reload.read_text() == NEW
    assert site.path.read_text() == OLD and site.mode() == 0o644
    assert site.runs() == ["validate", "reload"]
    assert site.leftovers() == []


def test_a_failed_reload_of_a_new_file_removes_it(site):
    result = site.run(NEW, reload_command=site.reload(rc=1))
    assert result["failed"] is True and result["reloaded"] is False
    assert not site.path.exists() and os.listdir(site.dir) == []
    assert site.runs() == ["validate", "reload"]


@pytest.mark.parametrize("mode", ["rw-r--r--", "u=rw,g=r,o=r", "0968", "", "0x1a4"])
def test_a_bad_mode_fails_naming_mode_and_writes_nothing(site, mode):
    site.existing(OLD)
    result = site.run(NEW, mode=mode)
    assert result["failed"] is True
    assert "mode" in result["msg"] and repr(mode) in result["msg"]
    assert site.path.read_text() == OLD
    assert site.runs() == []
    assert site.leftovers() == []


def test_a_missing_directory_fails_naming_the_path(site, tmp_path):
    path = tmp_path / "no-such-dir" / "chat-api.conf"
    result = run_module(MODULE, dict(path=str(path), content=NEW, validate=site.validate(),
                                     reload_command=site.reload()))
    assert result["failed"] is True
    assert str(path) in result["msg"] and "does not exist" in result["msg"]
    assert not path.parent.exists()
    assert site.runs() == []


def test_an_empty_validate_fails_before_writing(site):
    result = site.run(NEW, validate=[])
    assert result["failed"] is True and "validate" in result["msg"]
    assert not site.path.exists() and site.runs() == []


def test_an_empty_reload_command_writes_and_checks_without_reloading(site):
    site.existing(OLD)
    result = site.run(NEW, reload_command=[])
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["reloaded"] is False
    assert site.path.read_text() == NEW
    assert site.runs() == ["validate"]
    assert site.leftovers() == []


def test_an_empty_reload_command_still_puts_back_on_a_failed_check(site):
    site.existing(OLD)
    result = site.run(BROKEN, reload_command=[])
    assert result["failed"] is True and result["reloaded"] is False
    assert site.path.read_text() == OLD and site.runs() == ["validate"]


# Known bugs in plugins/modules/nginx_site.py, written as the behaviour the module documents. strict=True: once
# fixed they pass, the run reports XPASS as a failure, and the marker is to be removed.

def test_a_check_command_that_cannot_be_started_puts_the_previous_file_back(site):
    site.existing(OLD)
    result = site.run(NEW, validate=[str(site.dir / "no-such-nginx"), "-t"])
    assert result["failed"] is True
    assert site.path.read_text() == OLD


def test_a_failed_check_puts_back_a_crlf_file_byte_for_byte(site):
    site.existing(b"server {\r\n    listen 8080;\r\n}\r\n")
    result = site.run(BROKEN)
    assert result["failed"] is True
    assert site.path.read_bytes() == b"server {\r\n    listen 8080;\r\n}\r\n"


def test_crlf_content_again_is_a_no_op(site):
    content = "server {\r\n    listen 8080;\r\n}\r\n"
    assert site.run(content)["changed"] is True
    again = site.run(content)
    assert again["changed"] is False and again["reloaded"] is False


def test_a_failed_check_puts_back_a_file_that_is_not_utf8(site):
    site.existing(b"# caf\xe9\nserver { listen 8080; }\n")
    result = site.run(BROKEN)
    assert result["failed"] is True and "put back" in result["msg"]
    assert site.path.read_bytes() == b"# caf\xe9\nserver { listen 8080; }\n"


def test_a_negative_mode_fails(site):
    result = site.run(NEW, mode="-1")
    assert result["failed"] is True and "mode" in result["msg"]
    assert not site.path.exists()


def test_a_link_keeps_pointing_at_the_file_it_names_which_gets_the_content(site, tmp_path):
    available = tmp_path / "sites-available"
    available.mkdir()
    (available / "chat-api").write_text(OLD)
    os.symlink(available / "chat-api", site.path)
    result = site.run(NEW, validate=["true"])
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True
    assert os.readlink(site.path) == str(available / "chat-api")
    assert (available / "chat-api").read_text() == NEW


def test_arguments_are_taken_literally(site, tmp_path):
    seen = tmp_path / "argument"
    result = site.run(NEW, validate=["sh", "-c", 'printf %s "$1" > ' + shlex.quote(str(seen)), "sh", "$HOME"])
    assert result.get("failed") is not True, result.get("msg")
    assert seen.read_text() == "$HOME"


def test_a_reload_is_verified_by_what_nginx_then_answers(tmp_path, serve):
    server = serve(version="1.4.0")
    site = Site(tmp_path)
    site.existing(OLD)
    result = site.run(NEW, verify=dict(url=server.url + "/version", json={"version": "1.4.0"}, interval=0.05))
    assert result.get("failed") is not True, result.get("msg")
    assert result["reloaded"] is True and result["verified"]["json"] == {"version": "1.4.0"}
    assert site.path.read_text() == NEW and site.runs() == ["validate", "reload"]


def test_a_reload_that_does_not_serve_the_release_is_undone(tmp_path, serve):
    server = serve(version="1.3.0")  # nginx still answers with the old release
    site = Site(tmp_path)
    site.existing(OLD)
    result = site.run(NEW, verify=dict(url=server.url + "/version", json={"version": "1.4.0"}, timeout=0.3,
                                       interval=0.05))
    assert result["failed"] is True
    assert "1.4.0" in result["msg"] and "1.3.0" in result["msg"] and "put back" in result["msg"], result["msg"]
    assert site.path.read_text() == OLD  # the previous file, and nginx reloaded with it
    assert site.runs() == ["validate", "reload", "reload"] and site.seen_by_reload.read_text() == OLD
    assert len(server.paths()) >= 2  # asked again until the timeout


def test_a_refused_verification_names_the_reason(tmp_path, closed_port):
    site = Site(tmp_path)
    result = site.run(NEW, verify=dict(url="http://127.0.0.1:%d/version" % closed_port, timeout=0.2,
                                       interval=0.05))
    assert result["failed"] is True and "connection refused" in result["msg"], result["msg"]
    assert not site.path.exists()  # there was no file before: none is left


@pytest.mark.parametrize("verify, named", [
    (dict(url="127.0.0.1/version"), "verify.url"),
    (dict(url="http://127.0.0.1/version", timeout=0), "verify.timeout"),
])
def test_bad_verify_options_fail_before_writing(tmp_path, verify, named):
    site = Site(tmp_path)
    result = site.run(NEW, verify=verify)
    assert result["failed"] is True and named in result["msg"], result["msg"]
    assert not site.path.exists() and site.runs() == []


def test_no_change_means_no_verification(tmp_path, closed_port):
    site = Site(tmp_path)
    site.existing(NEW)
    result = site.run(NEW, verify=dict(url="http://127.0.0.1:%d/" % closed_port))
    assert result["changed"] is False and "verified" not in result and site.runs() == []
