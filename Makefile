# qsmon — one command each. `make help` lists the targets.
UV := python3 -m uv
.DEFAULT_GOAL := help
.PHONY: help bootstrap demo test lint typecheck unit integration stack-up stack-down bench bench-alerts bench-panels \
	bench-hostile bench-api

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

bootstrap: ## install uv (from PyPI) and the locked Python environment
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv==0.13.9
	@$(UV) sync --frozen --quiet

demo: bootstrap ## run the whole mission on the local stack (installs and starts it first)
	$(UV) run qsmon stack up
	$(UV) run qsmon demo

test: bootstrap lint typecheck ## lint, type-check, then unit and integration tests on the real local stack (with coverage)
	$(UV) run qsmon stack up
	$(UV) run pytest --cov --cov-report=term

lint: bootstrap ## ruff (lint and format), and the layer contracts (import-linter)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports --no-cache

typecheck: bootstrap ## mypy --strict
	$(UV) run mypy

unit: bootstrap ## unit tests only (no stack needed)
	$(UV) run pytest -m "not integration"

integration: bootstrap ## integration tests only
	$(UV) run qsmon stack up
	$(UV) run pytest -m integration

stack-up: bootstrap ## start the local stack
	$(UV) run qsmon stack up

stack-down: bootstrap ## stop the local stack
	$(UV) run qsmon stack down

bench: bootstrap ## end-to-end benchmarks (not part of the tests); writes docs/benchmarks.md figures to stdout
	$(UV) run qsmon stack up
	$(UV) run python -m bench.e2e --count 1000000 --workers 1,2,3 --profile 10 --write-docs

bench-alerts: bootstrap ## alert latency, breach to webhook (writes docs/benchmarks.md)
	$(UV) run qsmon stack up
	$(UV) run python -m bench.alert_latency --trials 50 --group-wait 2 --write-docs

bench-panels: bootstrap ## dashboard panel queries on 10 million results (writes docs/benchmarks.md)
	$(UV) run qsmon stack up
	$(UV) run python -m bench.panels --count 10000000 --write-docs

bench-api: bootstrap ## read API latency with wrk on 10 million results (installs wrk; writes docs/benchmarks.md)
	@command -v wrk >/dev/null || (apt-get install -y -q wrk || sudo apt-get install -y -q wrk)
	$(UV) run qsmon stack up
	$(UV) run python -m bench.api --write-docs

bench-hostile: bootstrap ## hostile input: bad NDJSON, refused records, outages (stops services; writes docs/benchmarks.md)
	$(UV) run qsmon stack up
	$(UV) run python -m bench.hostile --outages --write-docs
