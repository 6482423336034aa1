# Two commands matter: `make demo` (run with demo data) and `make test` (the whole suite).
# Each bootstraps what it needs: uv (from PyPI, into .tools/), then the locked environment in .venv/.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test lint typecheck unit bench-join clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: .tools/bin/uv pyproject.toml uv.lock
	$(UV) sync --frozen --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	touch .venv/.synced

demo: .venv/.synced
	.venv/bin/standby demo

lint: .venv/.synced
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	bash scripts/check-web-is-static

typecheck: .venv/.synced
	.venv/bin/mypy

unit: .venv/.synced
	bash scripts/ensure-test-tools
	.venv/bin/pytest --durations=25

test: lint typecheck unit

bench-join: .venv/.synced
	.venv/bin/python bench/join_latency.py

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache
