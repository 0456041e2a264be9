#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: blue_green_info
short_description: Read the state of a blue-green service on a host in one step
version_added: 1.0.0
description:
  - A blue-green service keeps its state in links under O(root), the layout the C(textbook.deploy.backend) role
    writes; C(<root>/<color>) points at C(releases/<release>) and C(<root>/live) at the live color.
  - Returns the live color, the release each color points at, the colors whose systemd unit is active, and the
    releases installed under C(<root>/releases), newest first.
  - With O(ports), it also asks each running color, on its own port, whether it is ready and which version it runs
    (RV(ready)); a color can be running a release other than the one its link now points at.
  - Reading all of it in one module run is what keeps a rollback down to seconds.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  root:
    description:
      - The service's directory, for example C(/opt/chat-api). A missing directory is a host with nothing deployed.
    type: path
    required: true
  colors:
    description:
      - The colors' names.
    type: list
    elements: str
    default: [blue, green]
  unit:
    description:
      - The systemd unit of a color, with C({color}) standing for the color's name, for example
        V(chat-api@{color}.service). Without it, RV(running) is empty.
    type: str
  audit_log:
    description:
      - The deploy audit log (JSON lines of M(textbook.deploy.deploy_lock)); its lines whose C(result) is
        V(succeeded) make RV(healthy). Its last MiB is read. Without it, RV(healthy) is empty.
    type: path
  rollout_state:
    description:
      - The file a rollout in progress is recorded in (the backend role's C(rollout.json)); read into RV(rollout).
    type: path
  ports:
    description:
      - Each color's port on 127.0.0.1, for example V(8001) for blue and V(8002) for green. Each running color
        with a port is asked O(ready_path) and O(version_path) once, into RV(ready). Without it, RV(ready) is empty.
    type: dict
  ready_path:
    description:
      - The path that answers 2xx when a color is ready.
    type: str
    default: /readyz
  version_path:
    description:
      - The path that answers JSON with the color's running C(version).
    type: str
    default: /version
  request_timeout:
    description:
      - Seconds to wait for each answer of a color.
    type: float
    default: 2.0
attributes:
  check_mode:
    support: full
    description: Reads in check mode as in a real run.
  diff_mode:
    support: none
    description: Returns no diff; it changes nothing.
  idempotent:
    support: full
    description: Only reads; never changes anything.
"""

EXAMPLES = r"""
- name: Read the service's colors and releases
  textbook.deploy.blue_green_info:
    root: /opt/chat-api
    unit: chat-api@{color}.service
    ports:
      blue: 8001
      green: 8002
  register: colors

- name: Show the live release
  ansible.builtin.debug:
    msg: "{{ colors.releases[colors.live] if colors.live else 'nothing live' }}"

- name: Show the colors ready to take traffic, with the version each runs
  ansible.builtin.debug:
    var: colors.ready
"""

RETURN = r"""
live:
  description: The live color, or an empty string when C(<root>/live) does not exist.
  returned: always
  type: str
  sample: green
releases:
  description: The release each color points at (an empty string for a color with no link).
  returned: always
  type: dict
  sample: {blue: "1.3.0", green: "1.4.0"}
running:
  description: The colors whose unit is active (empty without O(unit)).
  returned: always
  type: list
  elements: str
  sample: [green]
installed:
  description: The releases installed under C(<root>/releases), newest (last modified) first.
  returned: always
  type: list
  elements: str
  sample: ["1.4.0", "1.3.0", "1.2.1"]
healthy:
  description: The releases whose deploy or rollback O(audit_log) records as succeeded, newest first.
  returned: always
  type: list
  elements: str
  sample: ["1.3.0", "1.2.1"]
ready:
  description:
    - The running colors that answered O(ready_path) with 2xx, each with the version it reported at O(version_path)
      (empty without O(ports)).
  returned: always
  type: dict
  sample: {green: "1.4.0"}
rollout:
  description:
    - The rollout in progress recorded at O(rollout_state), or null. One found before this run's own rollout was
      interrupted (its run died).
  returned: always
  type: dict
  sample: {"run_id": "20261202T101500Z-4711", "version": "1.4.0", "stable": "blue", "canary": "green"}
"""

import json
import os

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.textbook.deploy.plugins.module_utils import probe


def link_name(path):
    """The last part of a link's target, or '' when there is no link."""
    try:
        return os.path.basename(os.readlink(path).rstrip("/"))
    except (FileNotFoundError, OSError):
        return ""


def installed_releases(directory):
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    entries.sort(key=lambda entry: (entry.stat(follow_symlinks=False).st_mtime, entry.name), reverse=True)
    return [entry.name for entry in entries]


def active_colors(module, colors, unit):
    """The colors whose unit `systemctl is-active` reports active (one line per unit, in order)."""
    if not unit or not colors:
        return []
    units = [unit.replace("{color}", color) for color in colors]
    rc, out, err = module.run_command([module.get_bin_path("systemctl", required=True), "is-active"] + units)
    states = out.split()
    if len(states) != len(units):
        module.fail_json(msg="systemctl is-active gave no state per unit of %s: %s" % (units, (err or out).strip()))
    return [color for color, state in zip(colors, states) if state == "active"]


AUDIT_TAIL_BYTES = 1 << 20


def healthy_releases(path):
    """Releases the audit log records a deploy or rollback of as succeeded (on every host: a deploy succeeds on all
    or none), newest first."""
    if not path:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - AUDIT_TAIL_BYTES))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # the first line of the tail may be cut
        version = entry.get("version") if isinstance(entry, dict) else None
        if entry.get("result") == "succeeded" and version and version not in found:
            found.append(version)
    return found


def ready_version(port, params):
    """The version a color on port reports once it answers ready, else None; one request each."""
    base = "http://127.0.0.1:%s" % port
    try:
        probe.get(base + params["ready_path"], timeout=params["request_timeout"])
    except Exception:  # refused, not ready, timed out: not ready, and that is all this reports
        return None
    return probe.reported_version(base + params["version_path"], timeout=params["request_timeout"])[0]


def ready_colors(running, ports, params):
    """{color: version} of the running colors that answer ready and report their version, asked at the same time
    (on a busy host each answer can take a while)."""
    asked = [color for color in running if color in ports]
    if not asked:
        return {}
    with ThreadPoolExecutor(max_workers=len(asked)) as pool:
        versions = pool.map(lambda color: ready_version(ports[color], params), asked)
        return dict((color, version) for color, version in zip(asked, versions) if version is not None)


def port_error(ports, colors):
    """Why O(ports) is wrong, or None."""
    for color, port in (ports or {}).items():
        if color not in colors:
            return "ports names %r, which is not one of the colors %s." % (color, colors)
        if not str(port).isdigit() or not 0 < int(port) < 65536:
            return "ports.%s must be a TCP port (1-65535), got %r." % (color, port)
    return None


def rollout_record(path):
    """The record of a rollout in progress, None when there is none (or it cannot be read as one)."""
    if not path:
        return None
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", required=True),
            colors=dict(type="list", elements="str", default=["blue", "green"]),
            unit=dict(type="str"),
            audit_log=dict(type="path"),
            rollout_state=dict(type="path"),
            ports=dict(type="dict"),
            ready_path=dict(type="str", default="/readyz"),
            version_path=dict(type="str", default="/version"),
            request_timeout=dict(type="float", default=2.0),
        ),
        supports_check_mode=True,
    )
    root, colors, unit = module.params["root"], module.params["colors"], module.params["unit"]
    bad = [color for color in colors if not color or "/" in color or color in ("live", "releases")]
    if bad or len(set(colors)) != len(colors):
        module.fail_json(msg="colors must be distinct names of links under root (not 'live' or 'releases'), got %s"
                         % colors)
    if unit is not None and "{color}" not in unit:
        module.fail_json(msg="unit must contain {color}, for example chat-api@{color}.service, got %r" % unit)
    error = port_error(module.params["ports"], colors)
    if error:
        module.fail_json(msg=error)
    running = active_colors(module, colors, unit)
    module.exit_json(
        changed=False,
        live=link_name(os.path.join(root, "live")),
        releases=dict((color, link_name(os.path.join(root, color))) for color in colors),
        running=running,
        ready=ready_colors(running, module.params["ports"] or {}, module.params),
        installed=installed_releases(os.path.join(root, "releases")),
        healthy=healthy_releases(module.params["audit_log"]),
        rollout=rollout_record(module.params["rollout_state"]),
    )


if __name__ == "__main__":
    main()
