#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: docusaurus_build
short_description: Install and build a Docusaurus site, only when something changed
version_added: 1.0.0
description:
  - Runs C(npm ci) in O(project_dir) when C(package-lock.json) changed since the last install (or C(node_modules) is
    missing), then C(npm run build -- --out-dir <out_dir>) when the sources or the inputs of the build changed since
    the last successful build, or when O(out_dir) no longer holds what that build produced.
  - The inputs of a build are the content of every file of the project (except C(node_modules) and C(.git) at any
    depth, C(build) and C(.docusaurus) directly under O(project_dir), and O(out_dir)), the O(env) given to the build,
    the hash of the lockfile and the version of Node.js. Their sha256 is returned as RV(content_hash).
  - Hashing is incremental; a stat cache (size, modification time, inode) means an unchanged file is not read again,
    so a no-op run over thousands of source files takes a fraction of a second.
  - The site is built into a temporary directory next to O(out_dir) and then swapped in, so a failed build leaves the
    previous build untouched and a successful one never keeps stale pages of deleted documents.
  - The module keeps its state in C(<project_dir>/node_modules/.textbook-deploy/) (C(install.json) for the lockfile
    last installed, C(build.json) for each output directory's last build and the stat cache). C(npm ci) deletes it with
    the rest of C(node_modules), which correctly forces a rebuild. Deleting that directory forces a rebuild too.
  - When C(node_modules) exists but was installed by something else (for example a plain C(npm ci)), the module
    compares npm's own record of the installed tree (C(node_modules/.package-lock.json)) with the lockfile and adopts
    the installation when they agree instead of installing again.
  - Runs on the host that holds the project, usually the controller (C(delegate_to) V(localhost)).
author:
  - textbook.deploy maintainers (@textbook-deploy)
options:
  project_dir:
    description:
      - The Docusaurus project, the directory holding C(package.json) and C(package-lock.json).
      - C(package.json) needs a C(build) script that passes its arguments on to C(docusaurus build), as the usual
        C(docusaurus build) script does.
    type: path
    required: true
  out_dir:
    description:
      - Where the built site goes. Defaults to C(<project_dir>/build).
      - It is replaced as a whole by each build. It must not be O(project_dir), contain O(project_dir), or lie inside
        C(node_modules). An existing non-empty directory is only replaced when it looks like a site build (has an
        C(index.html)) or this module built it before.
    type: path
  env:
    description:
      - Environment variables for the build, for example C(SITE_URL), C(BASE_URL), C(CHAT_API_URL).
      - Values must be strings (quote numbers and booleans in YAML).
      - B(Public configuration only.) Whatever the build reads is baked into the static site and published for
        anyone to read; never put tokens, passwords or API keys here. The values are part of RV(content_hash) and of
        the module's state file.
      - Only these variables are tracked; a variable the build reads from the inherited environment of Ansible does
        not trigger a rebuild when it changes.
    type: dict
    default: {}
  npm:
    description:
      - Path of the C(npm) executable. Defaults to the one found on E(PATH).
      - Its directory is put first on E(PATH) for the install and the build, so the C(node) next to it is used.
    type: path
  force:
    description:
      - Build even when nothing changed. C(npm ci) still only runs when needed; delete C(node_modules) to force it.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and report whether it would install and build, without running either.
    support: full
    details:
      - Check mode only reads files and runs C(node --version); RV(content_hash) is that of the current sources.
  diff_mode:
    description: Returns the content hash and the file count of the build before and after the run.
    support: full
  idempotent:
    description: A second run with the same sources and options reports no change and does not build.
    support: full
notes:
  - Concurrent runs on the same project wait for each other (an advisory lock on C(package.json)).
  - The output of a failed install or build is reduced to its error lines (with a little context) in C(msg) and
    in RV(stderr_lines).
requirements:
  - Node.js and npm on the host that holds the project.
"""

EXAMPLES = r"""
- name: Build the textbook on the controller
  textbook.deploy.docusaurus_build:
    project_dir: "{{ playbook_dir }}/../examples/textbook"
    env:
      SITE_URL: https://textbook-org.github.io
      BASE_URL: /textbook/
      CHAT_API_URL: https://api.textbook.example.org
  delegate_to: localhost
  run_once: true
  register: textbook_build

- name: Build into a directory of its own with a specific npm
  textbook.deploy.docusaurus_build:
    project_dir: /srv/textbook
    out_dir: /srv/textbook-site
    npm: /opt/node20/bin/npm

- name: Rebuild even though nothing changed
  textbook.deploy.docusaurus_build:
    project_dir: /srv/textbook
    force: true
"""

RETURN = r"""
build_dir:
  description: The directory holding the built site (O(out_dir)).
  returned: always
  type: str
  sample: /srv/textbook/build
file_count:
  description: Number of files in RV(build_dir) (in check mode, what it holds now).
  returned: always
  type: int
  sample: 142
bytes:
  description: Total size of the files in RV(build_dir) (in check mode, what it holds now).
  returned: always
  type: int
  sample: 5342011
content_hash:
  description:
    - sha256 of the inputs of the build (sources, O(env), lockfile, Node.js version).
    - Identifies the build; the same inputs give the same hash on any machine.
  returned: always
  type: str
  sample: 0f4c9a3c1b4a8f2b9e3b2c6a1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6
installed:
  description: Whether C(npm ci) ran (in check mode, whether it would run).
  returned: always
  type: bool
  sample: false
built:
  description: Whether the site was built (in check mode, whether it would be).
  returned: always
  type: bool
  sample: true
reasons:
  description: Why the module installs or builds (empty when nothing is to be done).
  returned: always
  type: list
  elements: str
  sample: ["sources or build inputs changed since the last build"]
node_version:
  description: Version of Node.js used for the build.
  returned: always
  type: str
  sample: v20.20.2
stderr_lines:
  description: The error lines of a failed C(npm ci) or C(npm run build), with a little context.
  returned: failure
  type: list
  elements: str
  sample: ["[ERROR] Error: Unable to build website for locale en."]
rc:
  description: Exit status of the failed command.
  returned: failure
  type: int
  sample: 1
"""

import fcntl
import json
import os
import re
import shutil
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.textbook.deploy.plugins.module_utils.fingerprint import (
    StatCache,
    dir_usage,
    file_sha256,
    text_sha256,
    tree_fingerprint,
)

STATE_DIR = os.path.join("node_modules", ".textbook-deploy")
STATE_FORMAT = 1
SKIP_DIRS = ("node_modules", ".git")
SKIP_TOP = ("build", ".docusaurus")
ENV_NAME = re.compile(r"^[^=\0]+$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ERROR_LINE = re.compile(r"error|\u2716|\u2718|\bERR!|failed|cannot|exception|\bthrow\b|unexpected|not found", re.IGNORECASE)
NPM_NOISE = re.compile(r"^npm (error|ERR!)( |$)|A complete log of this run|^> ")
STACK_FRAME = re.compile(r"^\s+at\s.*(:\d+:\d+\)?|\(native\)|\(index \d+\)|<anonymous>\)?)( \{)?$")
MAX_ERROR_LINES = 40
CONTEXT_BEFORE = 2
CONTEXT_AFTER = 6

# Quiet, colourless, non-interactive npm and Docusaurus.
BASE_ENV = {
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
    "npm_config_fund": "false",
    "npm_config_audit": "false",
    "npm_config_progress": "false",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
}


def read_json(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(data, handle, sort_keys=True, separators=(",", ":"))
    os.replace(tmp, path)


def is_inside(path, parent):
    """Whether path is parent or below it (both real paths)."""
    return path == parent or path.startswith(parent.rstrip(os.sep) + os.sep)


def clean_lines(text):
    """Output lines without colours, blank lines, stack frames, webpack cache warnings and lone braces."""
    lines = []
    for line in ANSI.sub("", text or "").replace("\r", "\n").splitlines():
        line = line.rstrip()
        if line.strip() and not STACK_FRAME.match(line) and not line.startswith("<w> ") and line.strip() not in ("{", "}"):
            lines.append(line)
    return lines


def error_lines(stdout, stderr):
    """The lines of a failed command's output that say what went wrong, with a little context, capped."""
    streams = [clean_lines(stderr), clean_lines(stdout)]
    for skip_npm in (True, False):
        picked = []
        for lines in streams:
            keep = set()
            for index, line in enumerate(lines):
                if ERROR_LINE.search(line) and not (skip_npm and NPM_NOISE.search(line)):
                    keep.update(range(max(0, index - CONTEXT_BEFORE), min(len(lines), index + CONTEXT_AFTER + 1)))
            previous = None
            for index in sorted(keep):
                if skip_npm and NPM_NOISE.search(lines[index]):
                    continue
                if previous is not None and index > previous + 1 and picked[-1] != "...":
                    picked.append("...")
                picked.append(lines[index])
                previous = index
        if picked:
            if len(picked) > MAX_ERROR_LINES:
                picked = picked[:MAX_ERROR_LINES] + ["... (%d more lines)" % (len(picked) - MAX_ERROR_LINES)]
            return picked
    for lines in streams:
        if lines:
            return lines[-20:]
    return ["(the command printed nothing)"]


class DocusaurusBuild:
    def __init__(self, module):
        self.module = module
        self.reasons = []
        self.installed = False

    # -- validation: everything is checked before anything runs ---------------------------------------------------
    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **extra)

    def validate(self):
        params = self.module.params
        project = params["project_dir"]
        if not os.path.isdir(project):
            self.fail("project_dir %s does not exist or is not a directory; set project_dir to the Docusaurus project "
                      "(the directory holding package.json)." % project)
        self.project = os.path.realpath(project)
        package_json = os.path.join(self.project, "package.json")
        if not os.path.isfile(package_json):
            self.fail("project_dir %s has no package.json; set project_dir to the Docusaurus project's root "
                      "(the directory holding package.json)." % project)
        package = read_json(package_json)
        if package is None:
            self.fail("project_dir %s: package.json is not a valid JSON object; fix it (npm cannot read it)." % project)
        scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
        if not scripts.get("build"):
            self.fail("project_dir %s: package.json has no \"build\" script; add \"scripts\": {\"build\": \"docusaurus build\"}."
                      % project)
        self.package_json = package_json
        self.lockfile = None
        for name in ("npm-shrinkwrap.json", "package-lock.json"):
            if os.path.isfile(os.path.join(self.project, name)):
                self.lockfile = os.path.join(self.project, name)
                break
        if self.lockfile is None:
            self.fail("project_dir %s has no package-lock.json: npm ci needs it. Run `npm install` there once and commit "
                      "the package-lock.json it writes." % project)

        env = params["env"] or {}
        for key in sorted(env, key=str):
            value = env[key]
            if not isinstance(key, str) or not ENV_NAME.match(key):
                self.fail("env: %r is not a valid environment variable name; use names like BASE_URL (no '=')." % (key,))
            if not isinstance(value, str):
                self.fail("env.%s must be a string, got %s %r; quote the value in YAML (%s: \"%s\")."
                          % (key, type(value).__name__, value, key, value))
            if "\0" in value:
                self.fail("env.%s contains a NUL character; environment values cannot hold one." % key)
        self.env = dict(env)

        out = params["out_dir"] or os.path.join(self.project, "build")
        self.out_dir = os.path.realpath(out)
        if self.out_dir == self.project:
            self.fail("out_dir %s is project_dir itself: each build replaces out_dir, which would delete the sources. "
                      "Set out_dir to a subdirectory such as %s/build or to a directory outside the project." % (out, project))
        if is_inside(self.project, self.out_dir):
            self.fail("out_dir %s contains project_dir: each build replaces out_dir, which would delete the sources. "
                      "Set out_dir to a subdirectory such as %s/build or to a directory outside the project." % (out, project))
        if "node_modules" in self.out_dir.split(os.sep):
            self.fail("out_dir %s is inside node_modules, which npm ci deletes. Set out_dir outside node_modules, "
                      "for example %s/build." % (out, project))
        if os.path.exists(self.out_dir) and not os.path.isdir(self.out_dir):
            self.fail("out_dir %s exists and is not a directory; remove it or choose another out_dir." % out)
        parent, name = os.path.split(self.out_dir)
        self.tmp_dir = os.path.join(parent, ".%s.textbook-deploy-tmp" % name)
        self.old_dir = os.path.join(parent, ".%s.textbook-deploy-old" % name)

        npm = params["npm"]
        if npm:
            if not (os.path.isfile(npm) and os.access(npm, os.X_OK)):
                self.fail("npm %s is not an executable file; set npm to the path of npm or leave it unset to use the "
                          "one on PATH." % npm)
        else:
            npm = self.module.get_bin_path("npm")
            if not npm:
                self.fail("npm was not found on PATH; install Node.js and npm, or set the npm option to its path.")
        self.npm = npm
        npm_dir = os.path.dirname(os.path.abspath(npm))
        node = self.module.get_bin_path("node", opt_dirs=[npm_dir])
        if not node:
            self.fail("node was not found next to npm (%s) nor on PATH; install Node.js, or set npm to the npm of a "
                      "Node.js installation." % npm)
        self.node = node
        self.environ = dict(BASE_ENV)
        self.environ["PATH"] = os.pathsep.join([npm_dir, os.environ.get("PATH", os.defpath)])
        self.environ.update(self.env)

        self.state_dir = os.path.join(self.project, STATE_DIR)
        self.install_state_path = os.path.join(self.state_dir, "install.json")
        self.build_state_path = os.path.join(self.state_dir, "build.json")

    def load_state(self):
        """The records of previous builds (read once the lock is held, so a concurrent run's build is seen)."""
        self.build_state = read_json(self.build_state_path) or {}
        if self.build_state.get("format") != STATE_FORMAT:
            self.build_state = {}
        self.builds = self.build_state.get("builds") if isinstance(self.build_state.get("builds"), dict) else {}
        self.record = self.builds.get(self.out_dir) if isinstance(self.builds.get(self.out_dir), dict) else None
        if self.record is None and os.path.isdir(self.out_dir) and os.listdir(self.out_dir) \
                and not os.path.isfile(os.path.join(self.out_dir, "index.html")):
            self.fail("out_dir %s already holds files that are not a site build (no index.html) and this module never "
                      "built there; each build replaces out_dir as a whole, so point out_dir at a new or empty "
                      "directory, or remove what is in it." % self.out_dir)

    # -- commands ---------------------------------------------------------------------------------------------------
    def run(self, args, what, cleanup=None):
        rc, stdout, stderr = self.module.run_command(args, cwd=self.project, environ_update=self.environ)
        if rc != 0:
            if cleanup:
                cleanup()
            lines = error_lines(stdout, stderr)
            self.fail("%s failed (rc=%d) in %s:\n%s" % (what, rc, self.project, "\n".join(lines)),
                      rc=rc, cmd=" ".join(args), stderr_lines=lines, installed=self.installed, built=False,
                      reasons=self.reasons)
        return stdout

    def node_version(self):
        rc, stdout, stderr = self.module.run_command([self.node, "--version"], environ_update=self.environ)
        if rc != 0:
            self.fail("%s --version failed (rc=%d): %s; check the Node.js installation." % (self.node, rc, stderr.strip()))
        return stdout.strip()

    # -- decisions ----------------------------------------------------------------------------------------------------
    def adoptable(self):
        """Whether node_modules holds exactly what the lockfile describes (npm's hidden lockfile says so)."""
        hidden = read_json(os.path.join(self.project, "node_modules", ".package-lock.json"))
        lock = read_json(self.lockfile)
        if not hidden or not lock or not isinstance(hidden.get("packages"), dict) or not isinstance(lock.get("packages"), dict):
            return False
        installed = hidden["packages"]
        for path, meta in lock["packages"].items():
            if not path or not isinstance(meta, dict):
                continue
            have = installed.get(path)
            if have is None:
                if meta.get("optional") or meta.get("devOptional"):
                    continue
                return False
            if (have.get("version"), have.get("integrity")) != (meta.get("version"), meta.get("integrity")):
                return False
        return all(path in lock["packages"] for path in installed if path)

    def decide_install(self):
        """(needed, adopt): whether npm ci must run, and whether an existing install can be adopted instead."""
        if not os.path.isdir(os.path.join(self.project, "node_modules")):
            self.reasons.append("node_modules is missing")
            return True, False
        stamp = read_json(self.install_state_path)
        if stamp is None:
            if self.adoptable():
                return False, True
            self.reasons.append("node_modules was not installed from the current %s" % os.path.basename(self.lockfile))
            return True, False
        if stamp.get("lock_hash") != self.lock_hash:
            self.reasons.append("%s changed since the last npm ci" % os.path.basename(self.lockfile))
            return True, False
        if major(stamp.get("node_version")) != major(self.node_ver):
            self.reasons.append("Node.js changed from %s to %s since the last npm ci" % (stamp.get("node_version"), self.node_ver))
            return True, False
        return False, False

    def decide_build(self, usage):
        if self.module.params["force"]:
            self.reasons.append("force is set")
        elif self.record is None:
            self.reasons.append("no previous build into %s" % self.out_dir)
        elif self.record.get("content_hash") != self.content_hash:
            self.reasons.append("sources or build inputs changed since the last build")
        elif not os.path.isdir(self.out_dir):
            self.reasons.append("%s is missing" % self.out_dir)
        elif usage != (self.record.get("file_count"), self.record.get("bytes")):
            self.reasons.append("%s no longer holds what the last build produced (%s files, %s bytes; now %d files, "
                                "%d bytes)" % (self.out_dir, self.record.get("file_count"), self.record.get("bytes"),
                                               usage[0], usage[1]))
        else:
            return False
        return True

    # -- main -------------------------------------------------------------------------------------------------------
    def main(self):
        module = self.module
        self.validate()
        if not module.check_mode:
            # Runs on the same project take turns; held until the module exits.
            self.lock_handle = open(self.package_json)
            fcntl.flock(self.lock_handle, fcntl.LOCK_EX)
        self.load_state()
        self.node_ver = self.node_version()
        self.lock_hash = file_sha256(self.lockfile)

        cache = StatCache(self.build_state.get("stat_cache") if isinstance(self.build_state.get("stat_cache"), dict) else None)
        tree = tree_fingerprint(self.project, cache, skip_dirs=SKIP_DIRS, skip_top=SKIP_TOP,
                                skip_paths=(self.out_dir, self.tmp_dir, self.old_dir))
        self.content_hash = text_sha256(json.dumps(
            {"format": STATE_FORMAT, "sources": tree.digest, "env": self.env, "lock": self.lock_hash, "node": self.node_ver},
            sort_keys=True))

        install, adopt = self.decide_install()
        usage = dir_usage(self.out_dir)
        build = self.decide_build(usage) or install
        if install and not build:
            self.reasons.append("npm ci changes what the build uses")
        before = {"content_hash": self.record.get("content_hash") if self.record else None, "file_count": usage[0]}
        result = dict(changed=install or build, installed=install, built=build, build_dir=self.out_dir,
                      content_hash=self.content_hash, node_version=self.node_ver, reasons=self.reasons,
                      file_count=usage[0], bytes=usage[1])

        if module.check_mode:
            result["msg"] = self.summary(install, build, would=True)
            if module._diff:
                result["diff"] = {"before": before, "after": {"content_hash": self.content_hash,
                                                              "file_count": None if build else usage[0]}}
            module.exit_json(**result)

        if install:
            self.run([self.npm, "ci", "--no-audit", "--no-fund"], "npm ci")
            self.installed = True
        if install or adopt:
            write_json(self.install_state_path, {"lock_hash": self.lock_hash, "node_version": self.node_ver,
                                                 "adopted": adopt and not install,
                                                 "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        if build:
            self.build()
            usage = dir_usage(self.out_dir)
            self.builds = dict((path, rec) for path, rec in self.builds.items() if os.path.isdir(path))
            self.builds[self.out_dir] = {"content_hash": self.content_hash, "file_count": usage[0], "bytes": usage[1],
                                         "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if build or install or cache.changed:
            write_json(self.build_state_path, {"format": STATE_FORMAT, "builds": self.builds,
                                               "stat_cache": cache.entries()})

        result.update(file_count=usage[0], bytes=usage[1], msg=self.summary(install, build, would=False))
        if module._diff:
            result["diff"] = {"before": before, "after": {"content_hash": self.content_hash, "file_count": usage[0]}}
        module.exit_json(**result)

    def build(self):
        """npm run build into a temporary directory, then swap it in place of out_dir."""
        for path in (self.tmp_dir, self.old_dir):
            if os.path.lexists(path):
                shutil.rmtree(path)
        os.makedirs(os.path.dirname(self.tmp_dir), exist_ok=True)
        self.run([self.npm, "run", "build", "--", "--out-dir", self.tmp_dir], "npm run build",
                 cleanup=lambda: shutil.rmtree(self.tmp_dir, ignore_errors=True))
        if not os.path.isdir(self.tmp_dir) or not os.listdir(self.tmp_dir):
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.fail("npm run build succeeded but wrote nothing to --out-dir %s: the build script of %s must pass its "
                      "arguments on to `docusaurus build` (\"build\": \"docusaurus build\")."
                      % (self.tmp_dir, self.package_json), installed=self.installed, built=False)
        if os.path.isdir(self.out_dir):
            os.rename(self.out_dir, self.old_dir)
        os.rename(self.tmp_dir, self.out_dir)
        shutil.rmtree(self.old_dir, ignore_errors=True)

    def summary(self, install, build, would):
        if not (install or build):
            return "%s is up to date (content hash %s)." % (self.out_dir, self.content_hash[:12])
        done = []
        if install:
            done.append("%s npm ci" % ("would run" if would else "ran"))
        if build:
            done.append("%s the site into %s" % ("would build" if would else "built", self.out_dir))
        return "%s: %s." % (" and ".join(done).capitalize(), "; ".join(self.reasons))


def major(version):
    match = re.match(r"v?(\d+)", version or "")
    return match.group(1) if match else None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_dir=dict(type="path", required=True),
            out_dir=dict(type="path"),
            env=dict(type="dict", default={}),
            npm=dict(type="path"),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    DocusaurusBuild(module).main()


if __name__ == "__main__":
    main()
