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



def deploy_backend(name, tmp_path, extra_vars=None):
    password = tmp_path / "vault-password"
    password.write_text(PLACEHOLDER_PASSWORD + "\n")
    command = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(ROOT / "inventories" / name),
               "--vault-password-file", str(password), str(ROOT / "playbooks" / "deploy_backend.yml")]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    return subprocess.run(command, capture_output=True, text=True, env=ansible_env(), cwd=str(ROOT), timeout=300)


@pytest.mark.parametrize("name", ["staging", "production"])
def test_the_backend_alone_refuses_the_vaults_placeholder_keys_before_reaching_a_host(name, tmp_path):
    proc = deploy_backend(name, tmp_path)
    assert proc.returncode != 0
    assert "data_neon_api_key or data_qdrant_api_key is still the placeholder REPLACE_ME" in proc.stdout
    assert "UNREACHABLE" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("name", ["staging", "production"])
def test_the_backend_alone_reads_its_database_url_from_neon(name, neon, neon_project, tmp_path):
    """What deploy-backend.yml runs in CI: the inventory gives no database URL; the data role's lookup reads it from
    Neon (here the stand-in, with the inventory's other settings), the settings pass the preflight, and the run goes
    on to the app hosts (which do not exist here)."""
    proc = deploy_backend(name, tmp_path, {
        "data_neon_api_url": neon.api_url, "data_neon_api_key": neon.api_key, "data_qdrant_api_key": "qdrant-key",
        "data_neon_project": neon_project["id"], "data_neon_branch": "main", "data_database_name": "neondb",
        "data_database_owner": "neondb_owner"})
    assert proc.returncode != 0
    output = proc.stdout
    settings_check = output.split("TASK [textbook.deploy.backend : Check the service's connection settings]")[1]
    settings_check = settings_check.split("TASK [")[0]
    assert "ok: [" in settings_check and "fatal" not in settings_check, output
    assert "UNREACHABLE" in output and ".textbook.example.org" in output, output
    assert neon.api_key not in output and neon_project["_connection_uri"].split("@")[0] not in output
