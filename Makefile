# prefectdb.maintenance: the demo and everything CI runs.
#   make demo        private PostgreSQL + real Prefect schema + synthetic history + playbooks/daily.yml
#   make demo-stop   stop the demo cluster
#   make test        unit + integration tests, ansible-test sanity, ansible-lint (what .ci/run runs)
#   make sanity SANITY_ARGS="plugins/modules/x.py"   sanity of some files only
#   make integration PYTEST_ARGS="-k retention"     some integration tests only
#   make molecule    the roles' molecule scenarios
#   make test-matrix the integration tests on PostgreSQL 15, 17 and 18 (Debian package roots; by hand, not in CI; MATRIX_MAJORS="17")

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/prefectdb/maintenance

DEMO_PORT ?= 54329
TEST_PORT ?= 54330
DEMO_ENV := PREFECTDB_PG_PORT=$(DEMO_PORT) PREFECTDB_PG_DIR=$(CURDIR)/.pg/demo
TEST_ENV := PREFECTDB_PG_PORT=$(TEST_PORT) PREFECTDB_PG_DIR=$(CURDIR)/.pg/test PREFECTDB_PG_FAST=1
DEMO_FLOW_RUNS ?= 10000
DEMO_DAYS ?= 180

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_NOCOLOR := 1

.PHONY: help venv collection demo demo-stop test units integration molecule sanity lint build clean

help:
	@sed -n 's/^#   //p' Makefile

# The controller virtualenv; rebuilt when requirements.txt changes.
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(VENV)/.installed collection

# ansible-playbook and pytest find the collection through this link to the checkout.
collection:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

demo: venv
	$(DEMO_ENV) scripts/pgcluster.sh start
	eval "$$($(DEMO_ENV) scripts/pgcluster.sh env)"; \
	scripts/prefect_schema.sh prefect_template; \
	if ! psql -X -tAq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'prefect'" | grep -q 1; then \
	    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS prefect_filling" -c "CREATE DATABASE prefect_filling TEMPLATE prefect_template"; \
	    $(BIN)/python scripts/synth_history.py --db prefect_filling --flow-runs $(DEMO_FLOW_RUNS) --days $(DEMO_DAYS); \
	    psql -X -q -d postgres -c "ALTER DATABASE prefect_filling RENAME TO prefect"; \
	fi
	$(DEMO_ENV) PREFECTDB_REPORT_DIR=$(CURDIR)/reports/demo $(BIN)/ansible-playbook -i playbooks/inventory/demo.yml playbooks/daily.yml
	@echo
	@echo "The report: $(CURDIR)/reports/demo/daily.html (and daily.md, daily.json)"
	@echo "The demo cluster stays up: eval \"\$$($(DEMO_ENV) scripts/pgcluster.sh env)\"; psql -d prefect.  Stop it with: make demo-stop"

demo-stop:
	$(DEMO_ENV) scripts/pgcluster.sh stop

test: units integration molecule sanity lint

units: venv
	$(BIN)/pytest -q tests/unit

integration: venv
	$(TEST_ENV) scripts/ensure_packages.sh
	$(TEST_ENV) $(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

# Each role's scenario: converge, idempotence, verify against the test cluster. reset first:
# an interrupted earlier run leaves its state saying 'prepared', and prepare would be skipped.
molecule: venv
	$(TEST_ENV) scripts/ensure_packages.sh
	for role in hourly daily weekly monthly; do \
	    (cd roles/$$role && PATH=$(BIN):$$PATH $(TEST_ENV) $(BIN)/molecule reset \
	        && PATH=$(BIN):$$PATH $(TEST_ENV) $(BIN)/molecule test) || exit 1; \
	done

# The integration tests once per PostgreSQL major, each on a cluster of its own (docs/compatibility.md).
.PHONY: test-matrix
test-matrix: venv
	scripts/test_matrix.sh $(MATRIX_MAJORS)

# ansible-test wants the collection under ansible_collections/<ns>/<name>/ and
# fetches a pip bootstrap script from the internet: give it an offline stand-in.
sanity: venv
	pipver=$$(sed -n "s/.*pip='\([0-9.]*\)'.*/\1/p" $(VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -n1); \
	mkdir -p ~/.ansible/test/cache; \
	cp scripts/get_pip_standin.py ~/.ansible/test/cache/get_pip_$${pipver//./_}.py
	@# a private copy outside the checkout: ansible-test skips files under hidden or git-ignored directories
	root=$$(mktemp -d "$${TMPDIR:-/tmp}/prefectdb-sanity.XXXXXX"); \
	trap 'rm -rf "$$root"' EXIT; \
	dest=$$root/ansible_collections/prefectdb/maintenance; mkdir -p $$dest; \
	git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C $$dest; \
	cd $$dest && $(BIN)/ansible-test sanity --venv --python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') $(SANITY_ARGS)

lint: venv
	$(BIN)/ansible-lint

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path .build/dist

clean:
	rm -rf .build .pytest_cache
