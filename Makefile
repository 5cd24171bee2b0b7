# EDW reservation migration. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LOCAL := .local
SAMPLE_DIR ?= $(LOCAL)/sample
OUTPUT_ROOT ?= $(LOCAL)/output
RESERVATIONS ?= 200000
SEED ?= 7
ARGS ?=
# the ground-truth check and reconcile follow a run with no ARGS (a make-time test: ARGS may hold quotes)
VERIFY = $(if $(strip $(ARGS)),,1)
export TZ := UTC
export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)

.PHONY: venv lock run sample services fresh-targets stop test lint bench package clean

venv: $(VENV)/.installed

# Every package from the lock, each file checked against its hash; then our own code, editable, built by the
# locked setuptools (nothing unpinned is fetched, not even a build backend).
$(VENV)/.installed: setup.py requirements/dev.lock
	@test -n "$(PYTHON)" || { echo "python3.11 not found"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

# requirements/README.md: dev.lock (make test, CI, make run) and cluster.lock (the EMR nodes, make package).
# uv's platform names: cluster.lock is for EMR 7 (Amazon Linux 2023, glibc 2.34, x86_64).
lock: venv
	$(BIN)/uv pip compile setup.py requirements/tools.in --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --generate-hashes --quiet -o requirements/dev.lock
	$(BIN)/uv pip compile setup.py --python-version 3.11 --python-platform x86_64-manylinux_2_34 \
	  --no-emit-package pyspark --no-emit-package py4j -c requirements/dev.lock \
	  --generate-hashes --quiet -o requirements/cluster.lock

# Generated data is reused while its size, seed and generator do not change.
$(SAMPLE_DIR)/.done-$(RESERVATIONS)-$(SEED): jobs/generate_sample.py $(wildcard sample/*.py) | venv
	rm -rf $(SAMPLE_DIR)
	$(BIN)/python -m jobs.generate_sample --out $(SAMPLE_DIR) --reservations $(RESERVATIONS) --seed $(SEED)
	@touch $@

sample: $(SAMPLE_DIR)/.done-$(RESERVATIONS)-$(SEED)

services: venv
	@mkdir -p $(LOCAL)
	$(BIN)/python -m bootstrap.local.services start --dir $(LOCAL) > $(LOCAL)/env.sh

# `make run` starts from empty local targets so that the verification below is exact, and without the run
# folders of earlier runs into them (reconcile compares with those: they are gone from the targets).
fresh-targets: services
	@source $(LOCAL)/env.sh && $(BIN)/python -m bootstrap.local.services start --dir $(LOCAL) --empty-targets >/dev/null
	@rm -rf $(OUTPUT_ROOT)/runs

run: sample fresh-targets
	@source $(LOCAL)/env.sh && \
	  MIGRATION_DATA_DIR=$(abspath $(SAMPLE_DIR)) MIGRATION_OUTPUT_ROOT=$(abspath $(OUTPUT_ROOT)) \
	  MIGRATION_LOG_FORMAT=text $(BIN)/python -m jobs.migrate --env local $(ARGS); \
	  code=$$?; \
	  echo; \
	  if [ $$code -eq 0 ] && [ -n "$(VERIFY)" ]; then \
	    $(BIN)/python -m bootstrap.local.verify --truth $(SAMPLE_DIR)/ground_truth.json \
	      --output-root $(OUTPUT_ROOT) || code=1; echo; \
	    run_id=$$(ls -t $(OUTPUT_ROOT)/runs | head -1); \
	    MIGRATION_DATA_DIR=$(abspath $(SAMPLE_DIR)) MIGRATION_OUTPUT_ROOT=$(abspath $(OUTPUT_ROOT)) \
	      MIGRATION_LOG_FORMAT=text $(BIN)/python -m jobs.reconcile --env local --run-id $$run_id || code=1; \
	    echo; fi; \
	  echo "ground truth:    $(SAMPLE_DIR)/ground_truth.json"; \
	  run_id=$$(ls -t $(OUTPUT_ROOT)/runs 2>/dev/null | head -1); \
	  echo "run report:      $(OUTPUT_ROOT)/runs/$$run_id/report.html (open it in a browser)"; \
	  echo "run folder:      $(OUTPUT_ROOT)/runs/$$run_id/ (manifest.json, quarantine/, failed_writes/, quality/)"; \
	  echo "look at Aurora:  psql \"host=127.0.0.1 port=$${MIGRATION_PG_PORT} dbname=migration user=migration password=migration-local\""; \
	  echo "look at DynamoDB: source $(LOCAL)/env.sh && $(BIN)/python -c \"import boto3; print(boto3.client('dynamodb').scan(TableName='reservations', Limit=1)['Items'])\""; \
	  echo "stop services:   make stop"; \
	  exit $$code

stop:
	@test -x $(BIN)/python && $(BIN)/python -m bootstrap.local.services stop --dir $(LOCAL) || true

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy jobs pipeline readers transforms loaders storage sample bootstrap

test: venv lint
	$(BIN)/python -m pytest

# The EMR artifact under dist/<git commit>/, with python-deps.tar: the wheels of requirements/cluster.lock for
# the cluster's platform (jobs.submit builds and uploads the same thing itself).
package: venv
	$(BIN)/python -m jobs.package --out dist

bench: venv
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: stop
	rm -rf $(LOCAL) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
