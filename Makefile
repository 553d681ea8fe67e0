# diko: the developer's entry points. `make` alone lists them.
#
# Everything runs on a fresh machine with Python 3.11, Go and apt: `make stack` builds
# and starts the local RabbitMQ / FerretDB / Mailpit under .local/, `make venv` creates
# .venv/. See deploy/local/README.md for the stack's ports and settings.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VENV_STAMP := $(VENV)/.diko-installed
STACK := python3 deploy/local/stack.py
RUN := python3 deploy/local/run.py
STACK_ENV := .local/stack.env
# Every package of the project: a changed dependency list reinstalls the venv.
PACKAGE_FILES := $(wildcard shared/pyproject.toml services/*/pyproject.toml)
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k dlq -x"`.
PYTEST_ARGS ?=
# `make test` also has the stack install what the tests need: Debian's Chromium, in which tests
# look at pages, and Prometheus, whose promtool checks the alert rules.
STACK_UP_ARGS ?=
# Run one benchmark only, e.g. `make bench BENCH=pipeline`.
BENCH ?= *

# Export the stack's addresses (DIKO_AMQP_URL, ...) to the command that follows.
WITH_STACK_ENV := set -a && . ./$(STACK_ENV) && set +a &&

.PHONY: generated help stack stack-down stack-clean stack-status venv lock test lint fmt run up down bench chaos image image-test

help: ## list the targets
	@echo "diko: make <target>"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

stack: ## build (first time) and start RabbitMQ, FerretDB, Mailpit on 127.0.0.1; writes .local/stack.env
	@$(STACK) up $(STACK_UP_ARGS)

stack-down: ## stop the stack, keep its data
	@$(STACK) down

stack-clean: ## stop the stack and delete its data and logs (binaries stay)
	@$(STACK) down --purge

stack-status: ## show whether each part of the stack runs and answers
	@$(STACK) status

venv: $(VENV_STAMP) ## create .venv (Python 3.11) with every package, pinned by constraints.txt
	@:

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "make: no python3.11 on PATH: install Python 3.11"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' || { \
		echo "make: $(PYTHON) is older than 3.11: install Python 3.11 or pass PYTHON=/path/to/python3.11"; \
		exit 1; }
	@echo "venv: creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "make: $(PYTHON) -m venv failed; on Debian/Ubuntu: apt-get install python3.11-venv"; \
		exit 1; }

$(VENV_STAMP): requirements-dev.txt constraints.txt $(PACKAGE_FILES) | $(VENV)/bin/python
	@echo "venv: installing requirements-dev.txt under the pins of constraints.txt"
	@$(VENV)/bin/pip install -qq --disable-pip-version-check \
		-c constraints.txt -r requirements-dev.txt
	@touch $@

# Without the old pins: pip keeps what still fits and adds or upgrades only what a
# changed requirement needs; the result becomes the new pins.
lock: | $(VENV)/bin/python ## re-pin constraints.txt after adding or changing a dependency
	@$(VENV)/bin/pip install -qq --disable-pip-version-check -r requirements-dev.txt
	@{ echo "# Pins of every third-party package in .venv, written by \`make lock\`."; \
	   echo "# \`make venv\` installs requirements-dev.txt under these constraints."; \
	   $(VENV)/bin/pip freeze --exclude-editable --disable-pip-version-check | grep -v ' @ file:'; \
	 } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt
	@touch $(VENV_STAMP)
	@echo "lock: constraints.txt pins $$(grep -c '==' constraints.txt) packages"

test: ## start the stack, provision .venv and Chromium, and run the whole suite against the real stack
	@$(MAKE) --no-print-directory -j2 stack venv STACK_UP_ARGS=--test-tools
	@$(WITH_STACK_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

generated: venv ## rewrite what is generated from the contract: AsyncAPI documents, docs/contract.md, docs/processing.md, the broker's definitions
	$(VENV)/bin/diko contract asyncapi
	$(VENV)/bin/diko contract doc
	$(VENV)/bin/diko contract processing
	$(VENV)/bin/python -m diko_shared.messaging.access

lint: venv ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv ## apply ruff's fixes and format
	$(VENV)/bin/ruff check --fix-only .
	$(VENV)/bin/ruff format .

run: ## start the stack and every service in the foreground; Ctrl-C stops the services
	@$(MAKE) --no-print-directory -j2 stack venv
	@$(RUN) run

up: ## like run, but detached (pids and logs in .local/run/)
	@$(MAKE) --no-print-directory -j2 stack venv
	@$(RUN) up

down: ## stop the services started by `make up` (the stack keeps running: make stack-down)
	@$(RUN) down

image: ## build each service's image with podman on a debootstrap base (deploy/README.md, "The image")
	@python3 deploy/local/image.py build

image-test: ## run each image against the local stack: ready, healthy, non-root, read-only, a query via the broker
	@$(MAKE) --no-print-directory -j2 stack venv
	@python3 deploy/local/image.py build
	@$(WITH_STACK_ENV) $(VENV)/bin/pytest -m image tests/image $(PYTEST_ARGS)

# The long chaos run (2,000 stories by default), e.g. `make chaos CHAOS_ARGS="--seed 7 --stories 300"`;
# `--schedule` prints the seed's fault schedule and stops.
CHAOS_ARGS ?=

chaos: ## the long chaos run: stories under load while services, broker, database and SMTP fail (tests/harness/chaos.py)
	@$(MAKE) --no-print-directory -j2 stack venv
	@$(WITH_STACK_ENV) $(VENV)/bin/python tests/harness/chaos.py $(CHAOS_ARGS)

bench: ## run each benchmark bench/<name>/__main__.py (BENCH=<name> for one); results in bench/results/
	@$(MAKE) --no-print-directory -j2 stack venv
	@found=0; \
	for main in bench/$(BENCH)/__main__.py; do \
		test -e "$$main" || continue; \
		found=1; name=$$(basename $$(dirname "$$main")); \
		echo "bench: $$name"; \
		( $(WITH_STACK_ENV) $(VENV)/bin/python -m "bench.$$name" ) || exit $$?; \
	done; \
	test $$found = 1 || echo "bench: no benchmark matches bench/$(BENCH)/__main__.py"
