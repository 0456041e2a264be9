"""The preview sweep's selection (plugins/filter/previews.py), as pure functions: what is left of each preview,
and which previews are stale (their pull request closed, merged or gone)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.textbook.deploy.plugins.filter.previews import (preview_leftovers, preview_numbers,
                                                                         stale_previews)

SITE_DIRS = [  # github_content_info's entries of pr-preview/
    {"name": "pr-1", "path": "pr-preview/pr-1", "type": "dir"},
    {"name": "pr-2", "path": "pr-preview/pr-2", "type": "dir"},
    {"name": "pr-9", "path": "pr-preview/pr-9", "type": "dir"},
    {"name": "pr-5", "path": "pr-preview/pr-5", "type": "file"},      # not a site
    {"name": "pr-007", "path": "pr-preview/pr-007", "type": "dir"},  # not a name a preview gets
    {"name": "README.md", "path": "pr-preview/README.md", "type": "file"},
]
BRANCHES = [{"name": "main", "default": True}, {"name": "preview-1"}, {"name": "preview-9"}, {"name": "preview-12"},
            {"name": "staging"}, {"name": "preview-0"}]
ALIASES = {"local_passages": "c0", "preview_1_passages": "c1", "preview_3_passages": "c3",
           "preview_9_passages": "c9", "preview_x_passages": "cx"}
PULLS = [{"number": 1, "state": "open"}, {"number": 2, "state": "closed"}, {"number": 3, "state": "merged"},
         {"number": 9, "state": "absent"}, {"number": 12, "state": "closed"}]


def test_what_is_left_of_each_preview():
    assert preview_leftovers(SITE_DIRS, BRANCHES, ALIASES) == {
        1: {"site": True, "branch": True, "index": True},
        2: {"site": True, "branch": False, "index": False},
        3: {"site": False, "branch": False, "index": True},
        9: {"site": True, "branch": True, "index": True},
        12: {"site": False, "branch": True, "index": False},
    }
    assert preview_numbers(SITE_DIRS, BRANCHES, ALIASES) == [1, 2, 3, 9, 12]
    assert preview_numbers(["pr-4"], ["preview-4", "preview-10"], ["preview_4_passages"]) == [4, 10]
    assert preview_numbers([], [], {}) == [] and preview_numbers() == []


def test_stale_previews_are_those_of_closed_merged_and_gone_pull_requests_sorted():
    stale = stale_previews(PULLS, SITE_DIRS, BRANCHES, ALIASES)
    assert [(entry["number"], entry["reason"], entry["left"]) for entry in stale] == [
        (2, "closed", ["site"]), (3, "merged", ["index"]), (9, "gone", ["site", "branch", "index"]),
        (12, "closed", ["branch"])]
    gone = stale[2]
    assert gone == {
        "number": 9, "reason": "gone", "environment": "preview-9", "site_path": "pr-preview/pr-9",
        "branch_name": "preview-9", "alias": "preview_9_passages", "site": True, "branch": True, "index": True,
        "left": ["site", "branch", "index"],
        "summary": "#9 gone: site pr-preview/pr-9/, Neon branch preview-9, index preview_9_passages"}
    assert stale[1]["summary"] == "#3 merged: index preview_3_passages"


def test_an_open_or_unchecked_pull_request_keeps_its_preview():
    assert stale_previews([{"number": 1, "state": "open"}], SITE_DIRS, BRANCHES, ALIASES) == []
    assert stale_previews([], SITE_DIRS, BRANCHES, ALIASES) == []  # nothing checked: nothing removed
    # a closed pull request with nothing left has nothing to remove
    assert stale_previews([{"number": 40, "state": "closed"}], SITE_DIRS, BRANCHES, ALIASES) == []


def test_other_shapes_names_and_preview_directory():
    stale = stale_previews({"7": "merged"}, ["pr-7"], ["preview-7"], ["preview_7_passages"], preview_dir="/previews/")
    assert stale[0]["site_path"] == "previews/pr-7" and stale[0]["left"] == ["site", "branch", "index"]


@pytest.mark.parametrize("pulls, site_dirs, message", [
    ([{"number": 1, "state": "draft"}], [], "pull request 1 has state 'draft'"),
    ({"x": "closed"}, [], "'x' is not a pull request number"),
    ([], "pr-1", "site_dirs must be a list"),
    ([], [{"path": "pr-preview/pr-1"}], "site_dirs: an entry has no 'name'"),
])
def test_bad_input_is_refused(pulls, site_dirs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        stale_previews(pulls, site_dirs, [], {})
