# Two commands for a newcomer: `make demo` and `make test`. Everything they need
# is installed here, on a fresh machine, with nothing done by hand.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_HOME := $(CURDIR)/.airflow-test

# Airflow for tests: its own home and database, no examples, this project's
# DAG and plugin folders.
AIRFLOW_ENV := AIRFLOW_HOME=$(TEST_HOME) \
	AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__PLUGINS_FOLDER=$(CURDIR)/plugins \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$(TEST_HOME)/airflow.db

.PHONY: install test lint unit demo sandbox clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv==0.13.9
	$(BIN)/uv pip install --python $(BIN)/python -r requirements-dev.txt -c constraints.txt
	touch $@

$(TEST_HOME)/.migrated: $(STAMP)
	mkdir -p $(TEST_HOME)
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate > $(TEST_HOME)/migrate.log 2>&1 || (cat $(TEST_HOME)/migrate.log; exit 1)
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) $(TEST_HOME)/.migrated lint
	$(AIRFLOW_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TEST_HOME) .sandbox .airflow-demo
