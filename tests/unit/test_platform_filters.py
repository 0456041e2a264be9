"""The filters the roles derive CORS origins and the index alias with (plugins/filter/platform.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.textbook.deploy.plugins.filter.platform import cors_origins, index_alias, site_origin


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
