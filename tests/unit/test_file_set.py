"""file_set on a temporary directory, run as Ansible runs it: every state, check and diff mode, bad input."""
import grp
import os
import pwd
import stat

from conftest import run_module

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def run(paths, check=False, diff=False):
    return run_module("file_set", dict(paths=paths), check=check, diff=diff)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def layout(tmp_path):
    """A release directory with its parents, a settings directory, a unit, a secret, a link and a stale site."""
    stale = tmp_path / "sites-enabled" / "default"
    stale.parent.mkdir()
    stale.write_text("server {}\n")
    return [
        dict(path=str(tmp_path / "root" / "releases" / "1.2.0"), state="directory"),
        dict(path=str(tmp_path / "etc"), state="directory", owner=ME, group=MY_GROUP, mode="0750"),
        dict(path=str(tmp_path / "etc" / "unit.service"), content="[Service]\nExecStart=/bin/true\n"),
        dict(path=str(tmp_path / "etc" / "chat-api.env"), secret_content="DATABASE_URL=postgres://u:hunter2@db/x\n",
             mode="0600"),
        dict(path=str(tmp_path / "root" / "green"), state="link", src="releases/1.2.0"),
        dict(path=str(stale), state="absent"),
    ]


def test_every_state_in_one_run_then_nothing_changes(tmp_path):
    paths = layout(tmp_path)
    first = run(paths)
    assert not first.get("failed"), first
    assert first["changed"] and first["changed_paths"] == [entry["path"] for entry in paths]
    assert mode(tmp_path / "root") == mode(tmp_path / "root" / "releases" / "1.2.0") == 0o755  # parents made too
    assert mode(tmp_path / "etc") == 0o750
    assert (tmp_path / "etc" / "unit.service").read_text() == "[Service]\nExecStart=/bin/true\n"
    assert mode(tmp_path / "etc" / "unit.service") == 0o644
    assert mode(tmp_path / "etc" / "chat-api.env") == 0o600
    assert os.readlink(tmp_path / "root" / "green") == "releases/1.2.0"
    assert not (tmp_path / "sites-enabled" / "default").exists()
    assert [name for name in os.listdir(tmp_path / "etc") if name.startswith(".")] == []

    second = run(paths)
    assert second["changed"] is False and second["changed_paths"] == []


def test_check_mode_changes_nothing_and_predicts_the_run(tmp_path):
    paths = layout(tmp_path)
    preview = run(paths, check=True)
    assert preview["changed_paths"] == [entry["path"] for entry in paths]
    assert sorted(os.listdir(tmp_path)) == ["sites-enabled"] and (tmp_path / "sites-enabled" / "default").exists()
    assert run(paths)["changed_paths"] == preview["changed_paths"]
    assert run(paths, check=True)["changed_paths"] == []


def test_only_what_drifted_changes(tmp_path):
    paths = layout(tmp_path)
    run(paths)
    os.chmod(tmp_path / "etc", 0o755)
    (tmp_path / "etc" / "unit.service").write_text("edited by hand\n")
    os.unlink(tmp_path / "root" / "green")
    os.symlink("releases/1.1.0", tmp_path / "root" / "green")
    result = run(paths, diff=True)
    assert result["changed_paths"] == [str(tmp_path / "etc"), str(tmp_path / "etc" / "unit.service"),
                                       str(tmp_path / "root" / "green")]
    diffs = {diff["before_header"]: diff for diff in result["diff"]}
    assert "mode 0755" in diffs[str(tmp_path / "etc")]["before"]
    assert "mode 0750" in diffs[str(tmp_path / "etc")]["after"]
    unit = diffs[str(tmp_path / "etc" / "unit.service")]
    assert "edited by hand" in unit["before"] and "ExecStart=/bin/true" in unit["after"]
    assert diffs[str(tmp_path / "root" / "green")]["before"] == "link to releases/1.1.0\n"
    assert os.readlink(tmp_path / "root" / "green") == "releases/1.2.0"
    assert mode(tmp_path / "etc") == 0o750


def test_a_secret_never_shows_in_the_result_or_the_diff(tmp_path):
    secret = "hunter2"
    path = tmp_path / "chat-api.env"
    first = run([dict(path=str(path), secret_content="PASSWORD=%s\n" % secret, mode="0600")], diff=True)
    changed = run([dict(path=str(path), secret_content="PASSWORD=%s-rotated\n" % secret, mode="0600")], diff=True)
    for result in (first, changed):
        assert secret not in result["_stdout"] and secret not in result["_stderr"]
    assert changed["diff"][0]["before"].endswith("(secret content)")
    assert changed["diff"][0]["after"].endswith("(secret content, changed)")
    assert path.read_text() == "PASSWORD=%s-rotated\n" % secret


def test_bad_input_fails_before_anything_changes(tmp_path):
    good = dict(path=str(tmp_path / "made"), state="directory")
    cases = [
        (dict(path="relative/path", state="directory"), "paths[1] (relative/path): path must be absolute"),
        (dict(path=str(tmp_path / "f")), "exactly one of content and secret_content"),
        (dict(path=str(tmp_path / "f"), content="a", secret_content="b"), "exactly one of content and secret_content"),
        (dict(path=str(tmp_path / "l"), state="link"), "src is required for state=link"),
        (dict(path=str(tmp_path / "d"), state="directory", mode="rwx"), "mode must be an octal string"),
        (dict(path=str(tmp_path / "d"), state="absent", mode="0644"), "owner, group and mode are for"),
        (dict(path=str(tmp_path / "d"), state="directory", owner="no-such-user-here"),
         "owner no-such-user-here does not exist on the host"),
        (dict(path=str(tmp_path / "made"), state="directory"), "is given more than once"),
    ]
    for entry, message in cases:
        result = run([good, entry])
        assert result.get("failed") and message in result["msg"], (entry, result.get("msg"))
        assert result["msg"].startswith("Nothing was changed.")
        assert not (tmp_path / "made").exists()


def test_a_path_of_the_wrong_type_changes_nothing(tmp_path):
    (tmp_path / "site").mkdir()
    result = run([dict(path=str(tmp_path / "made"), state="directory"),
                  dict(path=str(tmp_path / "site"), content="server {}\n")])
    assert result.get("failed") and "is a directory, not a file: remove it first" in result["msg"]
    assert not (tmp_path / "made").exists()
