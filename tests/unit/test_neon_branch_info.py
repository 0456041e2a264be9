"""neon_branch_info against the Neon stand-in: a project's branches with their expiry, filtered by a name regex,
read with GET requests only (in check mode too); bad input refused before any request; a missing project named."""
import pytest

from test_neon_modules import call, failed, ok


@pytest.fixture
def project(neon, neon_project):
    """The project with branches preview-7 (expiring in a day), preview-12 and staging."""
    for name, extra in (("preview-7", {"expires_in": "1d"}), ("preview-12", {}), ("staging", {})):
        ok(call(neon, "neon_branch", project=neon_project["name"], name=name, endpoint=False, **extra))
    neon.reset_log()
    earlier = len(neon.violations())
    yield neon_project
    assert neon.violations()[earlier:] == []


def test_branches_with_their_expiry_sorted_by_name(neon, project):
    result = ok(call(neon, "neon_branch_info", check=True, project=project["name"]))
    assert result["changed"] is False and result["project_id"] == project["id"]
    names = [branch["name"] for branch in result["branches"]]
    assert names == sorted(names) and {"preview-7", "preview-12", "staging"} < set(names)
    by_name = {branch["name"]: branch for branch in result["branches"]}
    default = [branch for branch in result["branches"] if branch["default"]]
    assert len(default) == 1 and default[0]["id"] == project["_branch_id"] and default[0]["expires_at"] is None
    assert by_name["preview-7"]["expires_at"] and by_name["preview-12"]["expires_at"] is None
    assert by_name["preview-7"]["parent_id"] == project["_branch_id"] and by_name["staging"]["created_at"]
    assert set(by_name["staging"]) == {"name", "id", "parent_id", "default", "current_state", "created_at",
                                       "expires_at"}
    assert {r["method"] for r in neon.requests()} == {"GET"}


def test_name_regex_keeps_the_matching_branches(neon, project):
    result = ok(call(neon, "neon_branch_info", project=project["id"], name_regex=r"^preview-[1-9][0-9]*$"))
    assert [branch["name"] for branch in result["branches"]] == ["preview-12", "preview-7"]
    assert ok(call(neon, "neon_branch_info", project=project["name"], name_regex="^nothing$"))["branches"] == []


@pytest.mark.parametrize("args, message", [
    ({"name_regex": "preview-(["}, "name_regex is not a valid regular expression"),
    ({"api_url": "console.neon.tech"}, "api_url must be an http:// or https:// URL"),
])
def test_bad_input_fails_before_any_request(neon, project, args, message):
    assert message in failed(call(neon, "neon_branch_info", project=project["name"], **args))
    assert neon.requests() == []


def test_missing_project_and_missing_key_say_what_to_fix(neon, project):
    msg = failed(call(neon, "neon_branch_info", project="no-such-project"))
    assert "no Neon project has this name or id" in msg and "option project" in msg
    neon.reset_log()
    msg = failed(call(neon, "neon_branch_info", project=project["name"], token="", env={"NEON_API_KEY": ""}))
    assert "No Neon token given" in msg and "NEON_API_KEY" in msg and neon.requests() == []
