# Two entry points: `make sweep` (main job on config/config.yaml) and `make test`.
# Both create the virtual environment from nothing on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: env test sweep bench bench-grid clean

env: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# The default profile adds --rerun-incomplete: after a kill, the same command resumes.
sweep: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores all --workflow-profile workflow/profiles/default

bench: $(STAMP)
	$(BIN)/python benchmarks/solve.py

# Per-solve cost table of a stratified (D, K) sample and the paper grid's projected core-hours
# (with and without mirror symmetry); BENCH_ARGS=--quick for a short run.
bench-grid: $(STAMP)
	$(BIN)/python benchmarks/grid.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .snakemake results/*/
