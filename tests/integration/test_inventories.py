"""The staging and production inventories: they parse (vault included, with the documented placeholder password)
and name every group and setting the playbooks need."""
import json
import subprocess

import pytest

from conftest import ROOT, ansible_env

PLACEHOLDER_PASSWORD = "placeholder-vault-password"  # docs/inventories.md
GROUPS = {"frontend", "data", "backend", "loadbalancer", "monitoring"}


def inventory(name, tmp_path):
    password = tmp_path / "vault-password"
    password.write_text(PLACEHOLDER_PASSWORD + "\n")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(ROOT / "inventories" / name),
                           "--list", "--vault-password-file", str(password)],
                          capture_output=True, text=True, env=ansible_env(), cwd=str(ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", ["staging", "production"])
def test_inventory_names_every_group_and_setting(name, tmp_path):
    listing = inventory(name, tmp_path)
    assert GROUPS <= set(listing["all"]["children"])
    for group in ("backend", "loadbalancer"):
        hosts = listing[group]["hosts"]
        assert hosts and all(host.endswith(".textbook.example.org") for host in hosts)
    app = listing["_meta"]["hostvars"][listing["backend"]["hosts"][0]]
    assert app["ansible_become"] is True and app["deploy_environment"] == name
    assert app["vault_qdrant_api_key"] == "REPLACE_ME"  # the vault decrypts, and holds the placeholder
    # what deploy-backend.yml needs reaches the GitHub environment from the vault
    assert set(app["cicd_secrets"]) == {"DEPLOY_SSH_KEY", "ANSIBLE_VAULT_PASSWORD"}
    assert app["vault_deploy_ssh_key"] == app["vault_ansible_vault_password"] == "REPLACE_ME"
    # HTTPS: Let's Encrypt for the load balancer's public name, the environment's CA for the other hosts
    lb = listing["_meta"]["hostvars"][listing["loadbalancer"]["hosts"][0]]
    assert lb["backend_tls"] is True and lb["security_certificate_provider"] == "acme"
    assert lb["security_cert_names"][0].endswith(".textbook.example.org") and lb["security_acme_email"]
    assert app.get("security_certificate_provider", "ownca") == "ownca"
    # the monitoring secrets come from the vault too
    assert set(app["monitoring_alert_webhooks"]) == {"page", "ticket", "default"}
    assert app["vault_alert_webhook_page"] == app["vault_grafana_token"] == "REPLACE_ME"

