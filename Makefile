# The commands the README and CI use. Python deps live in .venv (made with uv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-dates test-fast lint typecheck fmt bench services clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@test -x $(BIN)/uv || { $(BIN)/python -m ensurepip -q >/dev/null 2>&1 || true; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check uv==0.13.9; }
	@$(BIN)/uv pip install -q --python $(BIN)/python -e ".[dev]"
	@touch $(STAMP)

## run: the embedded stack with the demo company on http://127.0.0.1:8000
## (make run PORT=8010 HOST=0.0.0.0 for another port or interface)
# PORT and HOST count only on make's command line: a shell's own HOST (zsh sets it to the
# machine's name) or PORT must not move the server. PACELINE_PORT/PACELINE_HOST work too.
RUN_ARGS = $(if $(filter command line,$(origin PORT)),--port $(PORT)) \
	$(if $(filter command line,$(origin HOST)),--host $(HOST))
run: $(STAMP)
	$(strip $(BIN)/paceline serve --demo $(RUN_ARGS))

## services: what the integration tests need (PostgreSQL from Debian, the Kafka broker jars,
## Chromium from Debian for the browser tests, libfaketime from Debian for test-dates,
## promtool and the Prometheus server from Debian's prometheus package for tests/deploy)
services:
	bash deploy/postgres/pg.sh install
	bash deploy/kafka/kafka.sh fetch
	bash deploy/browser/chromium.sh install
	bash deploy/faketime/faketime.sh install
	bash deploy/prometheus/prometheus.sh install

## test: lint, type-check, then the whole suite on real PostgreSQL, real Kafka and embedded mode
## (PYTEST_WORKERS processes, each with its own PostgreSQL and Kafka; default 2), then test-dates
PYTEST_WORKERS ?= 2
test: $(STAMP) services lint typecheck
	$(BIN)/pytest -n $(PYTEST_WORKERS)
	$(BIN)/python -m tests.dates

## test-dates: the date-sensitive tests (-m dates) again at six faked wall-clock dates under
## libfaketime (PACELINE_DATES=name... for some; docs/TESTING.md)
test-dates: $(STAMP) services
	$(BIN)/python -m tests.dates

## test-fast: unit tests only (no PostgreSQL, no Kafka)
test-fast: $(STAMP)
	$(BIN)/pytest -m "not pg and not kafka and not slow and not browser"

lint: $(STAMP) build/typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=build/typecheck $(BIN)/lint-imports

# mypy and import-linter need the installed layout (paceline.* mapped from the folders):
# a symlink tree, build/typecheck/paceline (links only: it follows the source tree).
.PHONY: build/typecheck
build/typecheck:
	@rm -rf build/typecheck && mkdir -p build/typecheck/paceline
	@ln -s ../../../services/__init__.py build/typecheck/paceline/__init__.py
	@for d in api ingest scoring cli; do ln -s ../../../services/$$d build/typecheck/paceline/$$d; done
	@ln -s ../../../shared build/typecheck/paceline/shared
	@ln -s ../../../migrations build/typecheck/paceline/migrations

typecheck: $(STAMP) build/typecheck
	MYPYPATH=build/typecheck $(BIN)/mypy -p paceline

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The quixstreams peer's venv (see the build/quix-venv/.installed rule below).
QUIX_PY ?= python3.11
QUIX_VENV := build/quix-venv
QUIXSTREAMS_VERSION := 3.28.1

## bench: the benchmarks (writes docs/PERFORMANCE.md and bench/results/latest.json)
bench: $(STAMP) services $(QUIX_VENV)/.installed
	$(BIN)/python -m bench

## build/quix-venv/.installed: a venv of its own for the quixstreams peer (bench/quix_app.py,
## run by bench/quix_peer.py as a subprocess): quixstreams pins a pydantic that ours conflicts
## with, so it cannot live in .venv. QUIX_PY must be a Python quixstreams supports (3.9+).
$(QUIX_VENV)/.installed: Makefile
	@test -x $(QUIX_VENV)/bin/python || $(QUIX_PY) -m venv $(QUIX_VENV)
	@$(QUIX_VENV)/bin/python -m pip install -q --disable-pip-version-check \
	  quixstreams==$(QUIXSTREAMS_VERSION)
	@touch $@

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis var
