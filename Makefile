# The two commands that matter on a fresh machine:
#   make reports   set up .venv if needed, run every study on the bundled sample data
#   make test      set up .venv if needed, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Extra arguments for `clm run`, e.g. make reports RUN_ARGS="clv -p as_of=1998-06-30"
RUN_ARGS ?=
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k cohort"
PYTEST_ARGS ?=

.PHONY: reports test lab data benchmarks clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever the declared dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

reports: $(STAMP)
	$(BIN)/clm run $(RUN_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

data: $(STAMP)
	$(BIN)/python scripts/fetch_sample_data.py

benchmarks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean-venv:
	rm -rf $(VENV)
