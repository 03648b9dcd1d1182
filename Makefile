# The two commands that matter on a fresh machine:
#   make reports   set up .venv if needed, run every study on the bundled sample data
#                  (their settings in examples/cdnow.yml and examples/telco.yml)
#   make test      set up .venv if needed, run the whole test suite
# Both install the exact versions of requirements.lock (every direct and transitive
# dependency, with hashes); pyproject.toml keeps the ranges for library users.
#   make lock          re-resolve requirements.lock from pyproject.toml's ranges
#   make test-latest   the suite on the newest releases inside those ranges (.venv-latest)
#   make screenshots   the first screen of each report of `make reports` into docs/
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
LATEST := .venv-latest
# The bundled samples' settings: the studies assume nothing about the data (examples/*.yml)
EXAMPLES := --config examples/cdnow.yml --config examples/telco.yml
# Extra arguments for `clm run`, e.g. make reports RUN_ARGS="clv -p horizon=26"
RUN_ARGS ?=
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k cohort"
PYTEST_ARGS ?=
# The suite: two workers, each test file (and each notebook, run by nbval) on one worker,
# all Spark tests on one of them (tests/conftest.py)
PYTEST := -m pytest -n 2 --dist loadfile

.PHONY: reports test test-latest lock lab data benchmarks screenshots browser postgresql clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever the lock or the package's own metadata change. The lock holds the
# build requirements too (setuptools, wheel), so the package installs without fetching
# anything unpinned.
$(STAMP): $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

reports: $(STAMP)
	$(BIN)/clm run $(EXAMPLES) $(RUN_ARGS)

# Debian's chromium for the browser tests of the reports (skipped where it cannot be installed)
browser:
	@sh scripts/ensure_chromium.sh

# Debian's postgresql for the tests of the PostgreSQL history store (the tests start and
# stop their own server; skipped where it cannot be installed)
postgresql:
	@sh scripts/ensure_postgresql.sh

test: $(STAMP) browser postgresql
	$(BIN)/python $(PYTEST) $(PYTEST_ARGS)

# Resolve the newest releases inside pyproject.toml's ranges (all extras, plus the build
# requirements and pip itself) for CPython 3.11 and newer on every platform, with hashes.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv>=0.9,<1"
	$(BIN)/python -c "import tomllib; print('\n'.join(['pip'] + tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))" \
	  | $(BIN)/uv pip compile pyproject.toml - --all-extras --universal --python-version 3.11 \
	      --upgrade --generate-hashes --no-emit-package clm-workbench --custom-compile-command "make lock" \
	      --quiet -o $(LOCK)
	@echo "$(LOCK) re-resolved; run 'make test' before committing it"

# Drift on purpose: a separate venv with the newest releases the ranges allow.
test-latest: browser postgresql
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/versions.txt
	@echo "testing on:"; grep -iE '^(numpy|scipy|statsmodels|pandas|lifelines|duckdb|ibis-framework|pyspark|pyarrow)==' $(LATEST)/versions.txt
	$(LATEST)/bin/python $(PYTEST) $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

data: $(STAMP)
	$(BIN)/python scripts/fetch_sample_data.py
	$(BIN)/python scripts/make_leads_sample.py

# The first screen of every report of `make reports`, at 1400 px, into docs/ (for the README)
screenshots: $(STAMP) browser
	$(BIN)/python scripts/report_screenshots.py reports/latest docs

benchmarks: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean-venv:
	rm -rf $(VENV) $(LATEST)
