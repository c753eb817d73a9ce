# Two entry points: `make sweep` (main job on config/config.yaml) and `make test`.
# Both create the virtual environment from nothing on first use, with the exact versions of the
# lock envs/constraints.txt (pyproject.toml itself only declares compatible ranges).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK := envs/constraints.txt

.PHONY: env test test-quick sweep docs bench bench-grid bench-orientation bench-orientation-variants bench-calibration bench-fit clean

env: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c $(LOCK) pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test,docs]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# The inner loop: every test that starts no workflow, no Slurm cluster, no cold numba compile and no
# documentation build (markers in pyproject.toml), a few minutes on 2 cores with a warm numba cache.
# `make test` runs these and the rest.
test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not workflow and not cluster and not slow" tests

# The default profile adds --rerun-incomplete: after a kill, the same command resumes.
sweep: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores all --workflow-profile workflow/profiles/default

# The documentation site (Sphinx) into docs/_build/html; warnings are errors, examples run.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/solve.py

# Per-solve cost table of a stratified (D, K) sample and the paper grid's projected core-hours
# (with and without mirror symmetry); BENCH_ARGS=--quick for a short run.
bench-grid: $(STAMP)
	$(BIN)/python benchmarks/grid.py $(BENCH_ARGS)

# The fit at the paper's size: a synthetic paper-shaped dictionary through assemble → fit → figures,
# wall time and peak RSS per step (~10 GB of disk under results/bench-fit while it runs).
bench-fit: $(STAMP)
	$(BIN)/python benchmarks/fit_scale.py $(BENCH_ARGS)

# Orientation imaging in the real experiment's layout (config/orientation.yaml, ~1 h on 2 cores):
# angle and position errors with measured and model-based system matrices.
bench-orientation: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python benchmarks/orientation.py --timing

# Orientation imaging on three record variants unlike the project's own files (~30 min each on 2 cores).
bench-orientation-variants: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python benchmarks/orientation_variants.py --compare --matrices $(BENCH_ARGS)

# Calibration effort vs accuracy: config/calibration/*.yaml (full, then 3, 2, 1 angles on 6 × 6), one table.
bench-calibration: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python benchmarks/calibration_effort.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .snakemake results/*/ docs/_build docs/auto_examples
