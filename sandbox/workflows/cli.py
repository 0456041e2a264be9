"""`python -m sandbox actions run WORKFLOW`: run a generated workflow locally against the GitHub stand-in.

Exit status: 0 the run succeeded, 1 it failed, 2 bad input (the file, an option, the event, a missing secret or
variable; nothing ran), 3 the workflow does not run for this event (its `on:` filters leave it out).
"""
import argparse
import subprocess
import sys
from pathlib import Path

from .github import StandIn
from .run import Options, Run
from .workflow import EVENTS, PULL_REQUEST_ACTIONS, BadInput

BAD_INPUT, NOT_TRIGGERED = 2, 3


def positive_int(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a positive integer, not %r" % text)
    return int(text)


def add_parser(commands, root):
    """The `actions` command and its `run` sub-command, on the sandbox's argument parser."""
    actions = commands.add_parser("actions", help="run the generated GitHub Actions workflows locally")
    sub = actions.add_subparsers(dest="actions_command", required=True)
    run = sub.add_parser("run", description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.set_defaults(func=run_command)
    run.add_argument("workflow", help="the workflow file, e.g. .github/workflows/ci.yml of a checkout")
    run.add_argument("--event", default="push", help="one of %s (default push)" % ", ".join(EVENTS))
    run.add_argument("--action", default="opened", choices=PULL_REQUEST_ACTIONS, metavar="ACTION",
                     help="a pull_request's activity: opened, synchronize, closed ... (default opened)")
    run.add_argument("--number", type=positive_int, default=1, help="the pull request's number (default 1)")
    run.add_argument("--ref", help="the branch or tag pushed, dispatched on, or a pull request's head branch "
                                   "(default: the repository's default branch)")
    run.add_argument("--base", help="a pull request's base branch (default: the repository's default branch)")
    run.add_argument("--input", action="append", default=[], metavar="KEY=VALUE",
                     help="a workflow_dispatch input (repeat for more)")
    run.add_argument("--repo", help="owner/name on the stand-in (default: from the checkout's origin remote)")
    run.add_argument("--github", help="the stand-in's base URL (default: the running sandbox's)")
    run.add_argument("--token", help="a token of the stand-in (default: the running sandbox's)")
    run.add_argument("--state-dir", default=str(root / ".sandbox"), help="the running sandbox's state directory")
    run.add_argument("--runs-dir", help="where runs keep their directories (default: <state-dir>/runs)")


def run_command(args):
    try:
        options = make_options(args)
        run = Run(options).prepare()
        if run is None:
            return NOT_TRIGGERED
        return run.execute()
    except BadInput as err:
        print("actions run: %s" % err, file=sys.stderr)
        return BAD_INPUT


def make_options(args):
    inputs = {}
    for item in args.input:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise BadInput("--input %r: write KEY=VALUE" % item)
        inputs[key] = value
    sandbox_dir = None
    if args.github:
        if not args.token:
            raise BadInput("--github goes with --token")
        standin = StandIn(args.github, args.token)
    else:
        standin, sandbox_dir = StandIn.from_state(args.state_dir), Path(args.state_dir).resolve()
    workflow = Path(args.workflow)
    return Options(workflow=workflow, event=args.event, repo=args.repo or origin_repo(workflow), standin=standin,
                   runs_dir=Path(args.runs_dir or Path(args.state_dir) / "runs"), ref=args.ref, base=args.base,
                   action=args.action, number=args.number, inputs=inputs, sandbox_dir=sandbox_dir)


def origin_repo(workflow):
    """owner/name from the origin remote of the checkout that holds the workflow."""
    directory = workflow.resolve().parent if workflow.parent.exists() else Path.cwd()
    proc = subprocess.run(["git", "-C", str(directory), "remote", "get-url", "origin"], capture_output=True,
                          text=True)
    url = proc.stdout.strip()
    parts = url[:-4].rstrip("/").split("/") if url.endswith(".git") else url.rstrip("/").split("/")
    if proc.returncode != 0 or len(parts) < 2:
        raise BadInput("cannot tell the repository from %s's checkout (no origin remote): give --repo owner/name"
                       % workflow)
    return "%s/%s" % (parts[-2].split(":")[-1], parts[-1])
