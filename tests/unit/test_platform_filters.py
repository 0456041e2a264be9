"""The filters the roles derive CORS origins and the index alias with (plugins/filter/platform.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.textbook.deploy.plugins.filter.platform import (cors_origins, index_alias,
                                                                       preview_environment, service_settings_errors,
                                                                       site_origin)


def test_origins_are_normalised_the_way_browsers_send_them():
    assert cors_origins(["HTTPS://Owner.GitHub.io/", "http://10.77.0.1:8481", "https://x.org:443",
                         "http://x.org:80", "https://x.org:8443"]) == [
        "https://owner.github.io", "http://10.77.0.1:8481", "https://x.org", "http://x.org", "https://x.org:8443"]


def test_origins_from_a_comma_separated_string_without_duplicates_or_blanks():
    assert cors_origins("https://a.org, https://a.org/ ,,https://b.org") == ["https://a.org", "https://b.org"]
    assert cors_origins([]) == []


@pytest.mark.parametrize("entry", ["*", "https://x.org/textbook/", "ftp://x.org", "x.org", "https://u:p@x.org",
                                   "https://x.org?a=1", "https://x.org#top", "https://", "https://x.org:99999"])
def test_an_entry_that_is_not_an_origin_is_refused_naming_the_option(entry):
    with pytest.raises(AnsibleFilterError) as err:
        cors_origins(["https://ok.org", entry], "backend_allowed_origins")
    assert "backend_allowed_origins" in str(err.value) and "not an origin" in str(err.value)


def test_the_origin_of_a_site_url_with_a_path():
    assert site_origin("https://Owner.github.io/textbook/") == "https://owner.github.io"
    assert site_origin("http://10.77.0.1:8481") == "http://10.77.0.1:8481"
    with pytest.raises(AnsibleFilterError, match="frontend_site_url"):
        site_origin("owner.github.io/textbook/")


def test_each_environment_has_its_own_index_alias():
    assert index_alias("production") == "production_passages"
    assert index_alias("preview-42") == "preview_42_passages"


# --- service_settings_errors: the backend's connection settings, named without their values ------------------------

SECRET_URL = "postgresql://chat_app:pw-0123456789@ep-x.example.org/chat?sslmode=require"


def test_good_service_settings_have_no_problem():
    assert service_settings_errors(SECRET_URL, "https://qdrant.example.org:6333", "key") == []
    assert service_settings_errors("postgres://u:p@h/d", "http://10.77.0.1:8483", "") == []


@pytest.mark.parametrize("settings, named", [
    (("", "https://q", "k"), "backend_database_url is empty"),
    (("mysql://u:pw-0123456789@h/d", "https://q", "k"), "backend_database_url is not a postgresql:// URI"),
    ((SECRET_URL, "", "k"), "backend_qdrant_url is not an http(s) URL"),
    ((SECRET_URL, "qdrant:6333", "k"), "backend_qdrant_url is not an http(s) URL"),
    ((SECRET_URL, "https://q", "REPLACE_ME"), "backend_qdrant_api_key is the placeholder"),
])
def test_each_bad_service_setting_is_named_without_its_value(settings, named):
    problems = service_settings_errors(*settings)
    assert len(problems) == 1 and problems[0].startswith(named)
    assert "pw-0123456789" not in problems[0] and "mysql://" not in problems[0]


def test_a_preview_is_named_by_its_pull_request_number():
    assert preview_environment(42) == "preview-42" and preview_environment(" 7 ") == "preview-7"
    assert index_alias(preview_environment("42")) == "preview_42_passages"


@pytest.mark.parametrize("number", [0, -3, "", "abc", "4.2", "042", "1e3", None, "12345678901"])
def test_a_preview_number_that_is_not_a_positive_integer_is_refused_naming_the_option(number):
    with pytest.raises(AnsibleFilterError, match="preview_number must be the pull request's number"):
        preview_environment(number)
