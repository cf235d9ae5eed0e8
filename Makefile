# path2prod — the verbs a newcomer looks for. Every target sets itself up on a fresh machine.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help

# Lambda runs Python 3.13; the venv and `sam build` use the same. Found on PATH, else under pyenv.
ifndef PYTHON313
PYTHON313 := $(shell for p in $$(command -v python3.13) $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null && { echo "$$p"; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins boto3==1.35.49, older than moto and the SAM CLI want: it lives in a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_PIN := $(shell grep -o 'checkov==[0-9.]*' pyproject.toml)
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# sam build looks for `python3.13` on PATH.
SAM_PATH := $(dir $(PYTHON313)):$(PATH)
ENV ?= dev

.PHONY: help venv chromium demo test lint typecheck validate preflight build unit integration e2e quick bench bench-scale bench-sandbox bench-git bench-gate bench-reliability fuzz deploy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# Two install levels: the demo needs only path2prod and its sandbox (moto's server); tests and builds
# need the dev toolchain too (SAM CLI, cfn-lint, mypy, ...), which also satisfies the demo.
SANDBOX_STAMP := $(VENV)/.installed-sandbox
NEED_PYTHON := if [ -z "$(PYTHON313)" ]; then echo "error: python3.13 not found; install Python 3.13 (e.g. 'pyenv install 3.13') or pass PYTHON313=/path/to/python3.13" >&2; exit 1; fi

$(STAMP): pyproject.toml
	@$(NEED_PYTHON)
	@[ -x $(BIN)/python ] || $(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(SANDBOX_STAMP)

# Not quiet: a first run downloads about 60 MB, and pip's lines are the progress a newcomer sees.
$(SANDBOX_STAMP): pyproject.toml
	@$(NEED_PYTHON)
	@[ -x $(BIN)/python ] || { echo "==> creating .venv with $(PYTHON313)"; $(PYTHON313) -m venv $(VENV); }
	@echo "==> installing path2prod and its local sandbox (moto server) into .venv: about a minute the first time"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@set -o pipefail; $(BIN)/python -m pip install -e '.[sandbox]' \
	  | { grep -E --line-buffered '^(Collecting|Successfully installed)' || true; } \
	  | sed -u -E 's/^Collecting ([^ <>=!;(]+).*/  collecting \1/' | cut -c1-100
	@touch $@

venv: $(STAMP) ## create .venv with Python 3.13 and install path2prod with its tools

chromium: ## install Debian's headless chromium and its chromedriver if absent (the browser tests)
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }

demo: $(SANDBOX_STAMP) ## run the whole story in a throw-away local sandbox (installs only what it needs)
	$(BIN)/path2prod demo

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy on the shared package
	$(BIN)/mypy

validate: $(STAMP) ## sam validate --lint
	$(VALIDATE)

# make test runs the template checks only when what they read changed since they last passed (a stamp
# each): they give the same verdict on the same files, and preflight is ~25 s of CPU a warm suite needs.
# `make validate` and `make preflight` always run.
VALIDATE = PATH="$(SAM_PATH)" $(BIN)/sam validate --lint
VALIDATED := .aws-sam/validate.passed
PREFLIGHT = AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-west-1} $(BIN)/python tools/preflight.py --checkov $(CHECKOV_VENV)/bin/checkov
PREFLIGHT_PASSED := .aws-sam/preflight.passed

$(VALIDATED): template.yaml samconfig.toml $(STAMP)
	$(VALIDATE)
	@mkdir -p $(@D) && touch $@

$(PREFLIGHT_PASSED): template.yaml samconfig.toml tools/preflight.py tools/checkov-skips.yaml $(STAMP) $(CHECKOV_STAMP)
	$(PREFLIGHT)
	@mkdir -p $(@D) && touch $@

$(CHECKOV_STAMP): pyproject.toml
	@[ -x $(CHECKOV_VENV)/bin/python ] || $(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet '$(CHECKOV_PIN)'
	@touch $@

preflight: $(STAMP) $(CHECKOV_STAMP) ## SAM-translate template.yaml per samconfig env; cfn-lint (+serverless rules) and checkov it
	$(PREFLIGHT)

build: $(STAMP) ## sam build (no Docker needed)
	PATH="$(SAM_PATH)" $(BIN)/sam build --parallel

# The suite mostly waits (sandboxes starting, pipelines running): pytest-xdist runs it on more workers
# than cores, each test module kept on one worker (tests/conftest.py's scheduler).
TEST_WORKERS ?= 6
PARALLEL := -n $(TEST_WORKERS)

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q $(PARALLEL)

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q $(PARALLEL)

quick: $(STAMP) ## the tests without those marked slow (an inner loop; make test runs them all)
	$(BIN)/pytest -q $(PARALLEL) -m 'not slow'

# The checks are CPU-bound and the tests mostly wait, so they run side by side: the checks in the
# background (their output shown once the tests end), then pytest's closing line again, last, where a
# reader (and CI) looks for it. Either failing fails the target.
test: $(STAMP) $(CHECKOV_STAMP) chromium ## everything CI runs: lint, types, sam validate, preflight, sam build, all tests
	@set -o pipefail; logs=$$(mktemp -d); \
	$(MAKE) --no-print-directory -j --output-sync=target lint typecheck $(VALIDATED) $(PREFLIGHT_PASSED) build >$$logs/checks 2>&1 & checks=$$!; \
	$(BIN)/pytest -q $(PARALLEL) 2>&1 | tee $$logs/tests; tests=$$?; \
	wait $$checks; checked=$$?; \
	echo "==> lint, typecheck, build, and validate and preflight if their inputs changed (ran alongside the tests):"; cat $$logs/checks; \
	[ $$checked = 0 ] && echo "==> the checks passed" || echo "==> a check failed (above)"; \
	tail -n 1 $$logs/tests; rm -rf $$logs; \
	[ $$tests = 0 ] && [ $$checked = 0 ]

bench: $(STAMP) ## cold-start and API-call benchmark (figures go in docs/benchmarks.md)
	$(BIN)/python bench/handlers.py

bench-scale: $(STAMP) ## ledger reads at 100,000 entries vs 1,000 (about 15 min)
	$(BIN)/python bench/ledger_scale.py

bench-git: $(STAMP) ## git by need: rollback and promotion pushes at 100 to 20,000 commits; the sandbox rollback at 3,000 (about 5 min)
	$(BIN)/python bench/git_scale.py
	$(BIN)/python bench/rollback_at_scale.py

bench-gate: $(STAMP) ## the provenance gate: AWS calls per decision, and its latency in a demo's sandbox (about 2 min)
	$(BIN)/python bench/gate.py

bench-reliability: $(STAMP) ## nothing lost: 200 deployments under dropped, duplicated, late events and DynamoDB throttling (about 20 min)
	$(BIN)/python bench/reliability.py --deployments 200

bench-sandbox: $(STAMP) ## the sandbox: idle CPU at 10,000 entries, recorder invocations per run (about 3 min)
	$(BIN)/python bench/sandbox_idle.py --seconds 60
	$(BIN)/python bench/recorder_invocations.py

fuzz: $(STAMP) ## hostile events against every handler, counted by outcome (docs/security.md)
	$(BIN)/python bench/fuzz_figures.py

deploy: $(STAMP) ## deploy this account's stack: make deploy ENV=dev|stg|prd (refuses placeholder ids; docs/deploy.md)
	$(BIN)/python tools/check_samconfig.py $(ENV)
	$(MAKE) build
	PATH="$(SAM_PATH)" $(BIN)/sam deploy --config-env $(ENV)

clean: ## remove build output and the venv
	rm -rf .aws-sam $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
