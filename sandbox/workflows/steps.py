"""How one `run:` step runs, the way GitHub's runner does it: the script in a file under $RUNNER_TEMP, the shell's
command line with `{0}` for that file, fresh $GITHUB_OUTPUT/$GITHUB_ENV/$GITHUB_PATH/$GITHUB_STEP_SUMMARY files
read back after it, its own process group (so a timeout kills all it started), and secrets masked in its log.

Shells as GitHub documents them ("Workflow syntax for GitHub Actions", jobs.<job_id>.steps[*].shell): bash is
`bash --noprofile --norc -eo pipefail {0}` (also the default), sh `sh -e {0}`, python `python {0}`; anything
else with `{0}` is a custom shell.
"""
import os
import signal
import subprocess
import time
import uuid

SHELLS = {
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": ["python", "{0}"],
}
FILE_COMMANDS = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE")
KILL_GRACE = 5  # seconds between SIGTERM and SIGKILL for a step that outlived its timeout


class StepError(Exception):
    """A step that cannot start (an unknown shell, a missing working directory): it fails with this message."""


def shell_argv(shell, script):
    """The command line for a script file, from a `shell:` value."""
    shell = (shell or "bash").strip()
    if shell in SHELLS:
        template = SHELLS[shell]
    elif "{0}" in shell:
        template = shell.split()
    else:
        raise StepError("shell %r is not one the runner knows (bash, sh, python, or a command with {0})" % shell)
    return [part.replace("{0}", script) for part in template]


def write_script(temp_dir, shell, text):
    path = os.path.join(temp_dir, "%s%s" % (uuid.uuid4(), ".py" if (shell or "").strip() == "python" else ".sh"))
    with open(path, "w") as handle:
        handle.write(text)
    return path


def command_files(temp_dir):
    """Fresh, empty files for one step's file commands: {GITHUB_OUTPUT: path, ...}."""
    directory = os.path.join(temp_dir, "_runner_file_commands")
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for name in FILE_COMMANDS:
        paths[name] = os.path.join(directory, "%s_%s" % (name.lower(), uuid.uuid4()))
        open(paths[name], "w").close()
    return paths


def read_key_values(path):
    """NAME=value lines and the multi-line form NAME<<DELIMITER ... DELIMITER (GitHub's $GITHUB_OUTPUT and
    $GITHUB_ENV format); a heredoc whose delimiter never comes is an error, as on GitHub."""
    values, lines = {}, read_text(path).splitlines()
    pos = 0
    while pos < len(lines):
        line = lines[pos]
        pos += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = next((i for i in range(pos, len(lines)) if lines[i] == delimiter), None)
            if end is None:
                raise StepError("%s: no closing delimiter %r for %s" % (os.path.basename(path), delimiter, name))
            values[name] = "\n".join(lines[pos:end])
            pos = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        else:
            raise StepError("%s: invalid line %r (NAME=value or NAME<<DELIMITER)" % (os.path.basename(path), line))
    return values


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def run_process(argv, cwd, env, log, timeout, started=None):
    """Run argv with its output appended to the open file `log`; (exit status, timed out). A process that
    outlives `timeout` seconds has its whole process group killed. `started(pgid)` learns the group, so that what
    the step leaves running in the background can be stopped when its job ends (as the runner does)."""
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as err:
        raise StepError("cannot start %s: %s" % (argv[0], err.strerror))
    if started:
        started(proc.pid)
    try:
        return proc.wait(timeout=max(timeout, 0.01)), False
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        return proc.wait(), True


def kill_group(pgid, grace=KILL_GRACE):
    """SIGTERM to a process group, SIGKILL to what is left of it after `grace` seconds."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not signal_group(pgid, 0):
            return
        time.sleep(0.05)
    signal_group(pgid, signal.SIGKILL)


def signal_group(pgid, sig):
    """True if the group still had a process to signal."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def mask_file(path, secrets):
    """Replace every secret (and each line of a multi-line one) by *** in a log, as GitHub masks them."""
    needles = sorted({piece for value in secrets if value for piece in [value] + value.splitlines()
                      if len(piece.strip()) >= 3}, key=len, reverse=True)
    if not needles:
        return
    text = read_text(path)
    for needle in needles:
        text = text.replace(needle, "***")
    with open(path, "w") as handle:
        handle.write(text)
