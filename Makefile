# Two commands for a newcomer: `make demo` and `make test`. Everything they need
# is installed here, on a fresh machine, with nothing done by hand.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_HOME := $(CURDIR)/.airflow-test
DEMO_HOME := $(CURDIR)/.airflow-demo
# Playwright (requirements-dev.txt) drives Debian's Chromium (make chromium) and never
# fetches a browser of its own: nothing here runs `playwright install`, and this says so
# to anything that would.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

# Airflow with its own home and database, no examples, this project's DAG
# and plugin folders: $(call airflow_env,HOME).
airflow_env = AIRFLOW_HOME=$(1) \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__PLUGINS_FOLDER=$(CURDIR)/plugins \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$(1)/airflow.db
AIRFLOW_ENV := $(call airflow_env,$(TEST_HOME))

.PHONY: install test check lint demo sandbox airflow itest browser postgres redis chromium bench clean checkov

install: $(STAMP)

# --compile-bytecode: every process the tests start (xdist workers, parse checks, the
# deployment's components) would otherwise compile the same modules again.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==0.13.9
	$(BIN)/uv pip install --compile-bytecode --python $(BIN)/python -r requirements-dev.txt -c constraints.txt
	touch $@

# checkov (tests/plugins/hooks/test_kube_job_checkov.py scans the Jobs the code builds) in
# its own virtualenv: its dependencies clash with Airflow's pins. Installed as the main venv
# is, with the main venv's uv, from requirements-checkov.txt and its full pin set
# (constraints-checkov.txt, made by `uv pip compile`: see requirements-checkov.txt).
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt constraints-checkov.txt $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(BIN)/uv pip install --compile-bytecode --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.txt -c constraints-checkov.txt
	touch $@

%/.migrated: $(STAMP)
	mkdir -p $*
	$(call airflow_env,$*) $(BIN)/airflow db migrate > $*/migrate.log 2>&1 || (cat $*/migrate.log; exit 1)
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The whole suite in two steps: every test but the permission checks, spread over
# TEST_WORKERS processes (pytest-xdist; most of a test's time is spent waiting on the
# sandbox and Airflow, so more processes than cores pay), then the IAM and RBAC checks
# of the requests the workers recorded (tests/include/recorder.py). --dist loadscope,
# as tests/conftest.py refines it: the tests of a module that use its module-scoped
# world run together, in order, on one worker (the world built once); every other test
# is scheduled alone; the longest units go out first (tests/scheduling.py).
# The recording's path is given as --opt=PATH: as a separate argument, pytest takes an
# existing file for a test path and never loads tests/conftest.py, whose option it is
# (the second `make test` in a checkout failed with "unrecognized arguments").
TEST_WORKERS ?= 4
RECORDING := $(CURDIR)/build/permissions/recording.json
test: $(STAMP) $(TEST_HOME)/.migrated lint redis postgres checkov
	$(AIRFLOW_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope \
		-m "not deploy and not permissions" --ue-recording=$(RECORDING) $(PYTEST_ARGS)
	$(AIRFLOW_ENV) $(BIN)/python -m pytest tests/include -m permissions \
		--ue-check-recording=$(RECORDING) $(PYTEST_ARGS)

# The fast tier, for the edit-run loop (under a minute): lint, then every test that needs
# neither the sandbox nor a whole DAG run (the pure rules, property tests, DAG structure).
FAST_TESTS := not e2e and not sandbox and not slow and not deploy and not permissions
check: $(STAMP) $(TEST_HOME)/.migrated lint
	$(AIRFLOW_ENV) $(BIN)/python -m pytest -n 2 -m "$(FAST_TESTS)" $(PYTEST_ARGS)

# PostgreSQL from Debian's packages, for the deployment test's metadata database and
# the sandbox's RDS instances with real_data (tests/sandbox/test_aws_rds_data.py).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null)

# Redis from Debian's packages, for the sandbox's MemoryDB clusters with real data
# (sandbox/aws/memorydb_data.py; the tests that switch the sandbox's real_data on).
redis:
	@command -v redis-server > /dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server > /dev/null)

# Chromium from Debian's packages, for the browser tests (Playwright drives /usr/bin/chromium).
chromium:
	@command -v chromium > /dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium > /dev/null)

# The DAGs on real Airflow components (api-server, scheduler, dag-processor,
# triggerer; LocalExecutor on PostgreSQL) against the sandbox.
itest: $(STAMP) postgres
	$(BIN)/python -m pytest tests/deploy -m deploy $(PYTEST_ARGS)

# The operator's view: Chromium, driven by Playwright, logs in to the Airflow UI of such a
# deployment (real users) and uses the DAGs' forms; each step's screenshot in build/browser/.
browser: $(STAMP) postgres chromium
	$(BIN)/python -m pytest tests/browser -m browser $(PYTEST_ARGS)

# The same deployment for trying the DAGs by hand in the UI, until Ctrl-C: prints the URL,
# the admin's password and where Airflow keeps it (scripts/airflow_on_sandbox.py).
airflow: $(STAMP) postgres
	$(BIN)/python -m scripts.airflow_on_sandbox

# Benchmarks, as ratios measured side by side in one run: build/bench/report.{md,json}.
bench: $(STAMP) postgres
	PYTHONPATH=plugins:. $(BIN)/python -m benchmarks

# Back up and restore a small installation in the sandbox, and show the result.
demo: $(STAMP) $(DEMO_HOME)/.migrated redis postgres
	$(call airflow_env,$(DEMO_HOME)) $(BIN)/python scripts/demo.py

# The sandbox alone, for trying the DAGs by hand: prints the connection settings and
# writes them to $(DEMO_HOME)/sandbox.env (`source` it), the control API's URL included.
sandbox: $(STAMP)
	mkdir -p $(DEMO_HOME)
	$(BIN)/python -m sandbox --seed ue-demo --config-out $(DEMO_HOME)/installation.yaml \
		--env-out $(DEMO_HOME)/sandbox.env

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(TEST_HOME) .sandbox .airflow-demo .airflow-local

# Amazon MWAA: dist/plugins.zip (see "Deploying on Amazon MWAA" in the README).
.PHONY: mwaa-package
mwaa-package:
	$(PYTHON) scripts/mwaa_package.py
