"""A local runner for the GitHub Actions workflows the collection generates (roles/cicd), against the GitHub
stand-in: `python -m sandbox actions run WORKFLOW [--event push|pull_request|workflow_dispatch] ...` (cli.py).

Modules: expressions.py (the `${{ }}` language), workflow.py (the YAML, `on:` filters, workflow_dispatch inputs),
events.py (event payloads and the `github` context), github.py (what it asks the stand-in), run.py (jobs,
`needs:`, `if:`, `env:`, outputs, the run's directory), steps.py (a `run:` step's process, shell and file
commands), actions.py (the local actions: checkout, setup-python, setup-node, upload-pages-artifact,
deploy-pages).

Modelled, as GitHub documents it ("Workflow syntax for GitHub Actions", "Contexts", "Evaluate expressions",
"Variables", "Workflow commands"):
- `on:` for push (branches, branches-ignore, tags, tags-ignore, paths, paths-ignore), pull_request (types,
  branches of the base, paths of the three-dot diff) and workflow_dispatch (inputs: defaults, required, choice
  options, boolean and number types); an event the workflow does not listen to, or one its filters leave out,
  is said as such.
- Jobs after the jobs they need; a job whose `if:` (default success()) is false is skipped, so a failed need
  skips its dependants unless they ask for always()/failure(); `needs.<job>.result` and `.outputs`; job
  `outputs:`; `environment:` (a name or {name, url}, expressions allowed) chooses the environment level of
  secrets and variables, which overrides the repository's; its url is printed.
- Steps: `if:` with the status functions, `env:` at workflow, job and step level (step over $GITHUB_ENV over
  job over workflow), `shell:` and defaults.run (shell, working-directory) of job and workflow, step
  `working-directory`, `continue-on-error`, `timeout-minutes` of job and step (the step's process group is
  killed), `steps.<id>.outputs/outcome/conclusion`; $GITHUB_OUTPUT, $GITHUB_ENV (NAME=value and NAME<<DELIM),
  $GITHUB_PATH and $GITHUB_STEP_SUMMARY (gathered in the run's summary.md); the runner's variables (CI,
  GITHUB_*, RUNNER_*), and nothing of the caller's environment but PATH, LANG and USER (and, run against the
  running sandbox, TEXTBOOK_SANDBOX_DIR: where inventories/local in the job's checkout finds the sandbox's state,
  the hosts' SSH key and the environment's CA, which no checkout holds); a HOME of the job's own
  in the run's directory (so ~/.ssh written by a workflow is not the machine's); processes a step leaves
  running are stopped when its job ends; secret values are masked (***) in the step logs.
- `secrets.*` (the stand-in's decrypted values through its admin API, GITHUB_TOKEN = the stand-in's token) and
  `vars.*` (its REST API); one that is referenced but set at no level is an error naming it and the levels
  searched, before any step runs where the reference is literal (GitHub would substitute an empty string).
- The conclusion is the exit status: 0 success, 1 failure, 2 bad input, 3 not triggered (cli.py).

Not modelled (the runner stops on the first three; the rest are ignored or differ as said):
- matrices (`strategy`), `services`, `container`, reusable workflows (job-level `uses:`), actions other than
  the five above (a clear error naming the step, before anything runs), composite or Docker actions;
- other events (pull_request_target, schedule, release ...);
- parallel jobs: GitHub runs jobs that do not need each other at the same time, the runner one after another;
- `concurrency:` groups and cancel-in-progress, `permissions:` (the token may do everything), OIDC tokens
  (deploy-pages sends a placeholder), caches (setup-python's `cache:`; setup-node's `cache: npm` lends the job
  this machine's npm cache), artifacts other than the
  Pages one (no upload-artifact/download-artifact), environment protection rules (reviewers, wait timers,
  branch policies): nothing waits or is refused;
- a pull request's merge commit: its run checks out the head commit (GitHub builds refs/pull/N/merge), and its
  payload is made from git (head and base branches), not read from the stand-in's pull requests;
- a push's `before` is the head commit's first parent (one commit pushed);
- runner images: the job runs on this machine with its tools (bash, git, node, the runner's Python); `runs-on`
  is not looked at; workflow commands printed on stdout (::set-output::, ::add-mask:: ...) are not read;
- cancelling a run (cancelled() is true only after a job's timeout), re-runs and run attempts, a job-level
  `continue-on-error` (a failed job fails the run), and `uses:` of a local path (./action) or a docker:// image
  (refused like any action not listed above).
"""
