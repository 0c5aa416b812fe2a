# The two commands of the README: `make demo` and `make test`.
# Both build .venv on first use; a stamp file makes later runs skip the install.
# --compile-bytecode (pip's default, not uv's): without it the first run's processes (four test
# workers, every Airflow component) each compiled the same modules again (bench/README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER := /usr/bin/chromedriver /usr/lib/chromium/chromium-headless-shell
export WHATSAPP_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
# Python caches bytecode here (__pycache__/ is git-ignored) even where the shell says not to: this
# VM's shells set PYTHONDONTWRITEBYTECODE=1, and then every process of a test run (each pytest
# worker, Airflow component and task, simulator, CLI call) compiled the repository's modules again,
# and pytest rewrote the asserts of every test module in each worker: one pytest process collecting
# the suite took 17.9 s that way, 9.1 s with the cache (wall, bench/README.md).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo demo-airflow test test-fast lint install clean lock ui types

install: $(STAMP) ui

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	rm -rf plugins/*.egg-info  # left by the old setuptools build: Airflow saw the plugin twice
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt -c constraints.txt -e .
	touch $(STAMP)

demo: $(STAMP) ui
	$(BIN)/python -m include.demo

# Airflow's UI on the demo's state (runs the demo first if needed); DEMO_PORT=8081 for another port.
demo-airflow: $(STAMP) ui
	$(BIN)/python -m include.demo_airflow $(if $(DEMO_PORT),--port $(DEMO_PORT))

# The WhatsApp Health bundle (ui/ -> plugins/whatsapp/ui/dist/, committed): rebuilt with Node only
# when ui/bundle_hash.py finds the sources changed since the committed build (content, not mtimes).
ui:
	@$(PYTHON) ui/bundle_hash.py check || (cd ui && npm ci --no-audit --no-fund && npm run build)

# After an API change: ui/openapi.json from the plugin's app, then ui/openapi-gen/api.ts from it
# (openapi-typescript, in ui/codegen); tests/ui/test_generated_types.py fails while either is stale.
types: $(STAMP)
	cd ui && PYTHON=../$(BIN)/python npm run generate

# openapi-typescript, for the test that regenerates the page's types and compares (npm registry).
CODEGEN := ui/codegen/node_modules/.package-lock.json
$(CODEGEN): ui/codegen/package-lock.json
	npm ci --prefix ui/codegen --no-audit --no-fund --silent

# Chromium's headless shell (the browser Playwright and Puppeteer run headless) and chromedriver
# for the WhatsApp Health page tests: Debian's packages (needs root, as CI has).
$(BROWSER):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell chromium-driver

# pytest-xdist workers: one per shared stack (two browser suites, the end-to-end Airflow, the API
# app), so all four start at once; their tests wait on Airflow, Chromium and the simulator as much
# as they compute, and the other tests fill those waits (bench/README.md, "third session").
# --dist loadgroup: the tests of one shared stack (SHARED_STACK_FIXTURES in tests/conftest.py) run
# on one worker, which starts it once; --no-loadscope-reorder keeps tests/conftest.py's start order.
TEST_WORKERS ?= 4
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

test: $(STAMP) ui $(BROWSER) $(CODEGEN)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PARALLEL)

# The inner loop: domain, hook, store, simulator and DAG-integrity tests; no DAG runs, no Airflow
# servers, no browser (make test runs those too).
FAST_TESTS := tests/unit tests/hook tests/store tests/simulator tests/dags tests/pywa

test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PARALLEL) $(FAST_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/deptry plugins

# Refresh the transitive pins after changing requirements.txt.
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet --python $(BIN)/python requirements.txt -o constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
