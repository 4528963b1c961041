# AI-Implement — developer commands. `make help` lists them.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-24s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(INSTALLED): pyproject.toml requirements/dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $@

.PHONY: install
install: $(INSTALLED) system-deps control-plane-binaries test-tools ## Install Python packages, system packages, the control-plane binaries and actionlint (idempotent).

.PHONY: lock
lock: ## Re-lock the Python dependencies into requirements/*.lock (with hashes) after changing pyproject.toml.
	bash hack/lock-dependencies.sh

.PHONY: system-deps
system-deps: ## Install the Debian packages the tests need (PostgreSQL, libfaketime, Chromium, shellcheck), when missing.
	@bash hack/install-system-deps.sh

.PHONY: test-tools
test-tools: ## Build actionlint and kustomize, fetch the Prometheus Operator's CRDs, into ~/.cache/ai-implement (once).
	@bash hack/build-actionlint.sh >/dev/null
	@bash hack/build-kustomize.sh >/dev/null
	@bash hack/fetch-monitoring-crds.sh >/dev/null

.PHONY: control-plane-binaries
control-plane-binaries: ## Build kube-apiserver and etcd into ~/.cache/ai-implement (once).
	@test -n "$$KUBEBUILDER_ASSETS" || bash hack/build-control-plane.sh >/dev/null

.PHONY: dev
dev: $(INSTALLED) control-plane-binaries ## Run the controller on this machine against sandboxes, admin UI on :8080 (Ctrl-C stops).
	$(BIN)/ai-implement dev

.PHONY: control-plane
control-plane: $(INSTALLED) control-plane-binaries ## Run a local kube-apiserver + etcd with the CRDs until Ctrl-C.
	$(BIN)/python -m controller.devcluster

.PHONY: crds
crds: $(INSTALLED) ## Regenerate crds/ from the models in controller/resources.
	$(BIN)/ai-implement crds --write crds/

.PHONY: lint
lint: $(INSTALLED) ## ruff, mypy --strict on controller/, and the import layering contract.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy controller webui
	$(BIN)/lint-imports

.PHONY: test
test: install lint test-far-future ## Everything CI runs: install, lint, the date check, then the whole test suite.
	$(BIN)/pytest

.PHONY: test-far-future
test-far-future: install ## The tests that need no API server, 400 days ahead (libfaketime): none may depend on the date.
	faketime -f '+400d' $(BIN)/pytest -m "not controlplane" -q

.PHONY: bench
bench: install ## Run every benchmark case (docs/performance.md): one table, bench/results/<date>.json, the docs updated.
	$(BIN)/python -m bench.run

.PHONY: assets
assets: ## Vendor the admin UI's front-end assets (htmx; axe-core for the tests) from npm at pinned versions.
	bash hack/vendor-assets.sh

.PHONY: screenshots
screenshots: install ## Take docs/images/*.png, a picture of every admin panel, from a fresh `ai-implement dev`.
	SCREENSHOT_DIR=docs/images $(BIN)/pytest -q tests/browser -k screenshots

.PHONY: kind-up
kind-up: ## Create a kind cluster (needs Docker and kind) and install the CRDs.
	kind create cluster --config manifests/kind/cluster.yaml
	kubectl apply -f crds/

.PHONY: image
image: ## Build the controller image ai-implement:dev (needs Docker).
	docker build --target controller -t ai-implement:dev .

.PHONY: runner-image
runner-image: ## Build the session image ai-implement-runner:dev: the runner, git and Claude Code (needs Docker).
	docker build --target runner -t ai-implement-runner:dev .

.PHONY: kind-deploy
kind-deploy: ## Deploy manifests/overlays/kind with both images built here (needs Docker; the first run creates kind.env to fill in).
	@bash hack/kind-env.sh
	$(MAKE) image runner-image
	kind load docker-image ai-implement:dev ai-implement-runner:dev --name ai-implement
	kubectl apply --server-side -f crds/
	kubectl apply -k manifests/overlays/kind
	kubectl -n ai-implement rollout status deployment/ai-implement --timeout=180s

.PHONY: kind-down
kind-down: ## Delete the kind cluster.
	kind delete cluster --name ai-implement

.PHONY: clean
clean: ## Remove the virtualenv and caches in the work tree (not ~/.cache).
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
