"""Shared fixtures: the reference results and MPI files in tests/data (provenance: tests/data/README.md)."""

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"


def _table(name):
    path = DATA / name
    if not path.exists():
        pytest.fail(f"reference file {path} is missing from the checkout")
    return path


@pytest.fixture(scope="session")
def equilibrium_reference():
    return np.loadtxt(_table("equilibrium.csv"), delimiter=",", comments="#", skiprows=5, ndmin=2)


@pytest.fixture(scope="session")
def relaxation_reference():
    return np.loadtxt(_table("relaxation.csv"), delimiter=",", comments="#", skiprows=4, ndmin=2)


@pytest.fixture(scope="session")
def case_a():
    return np.loadtxt(_table("mnpdynamics_caseA.csv"), delimiter=",", skiprows=1)


@pytest.fixture(scope="session")
def case_b():
    return np.loadtxt(_table("mnpdynamics_caseB.csv"), delimiter=",", skiprows=1)


def _run_workflow(work: Path, config: dict, cores: int = 2) -> str:
    """Snakemake on the repository's Snakefile in `work` with `config` (written to work/config.yaml) merged
    over config/config.yaml; fails the test with the log's tail unless it succeeds; returns the log."""
    import subprocess
    import sys

    import yaml

    cfg = Path(work) / "config.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(Path(__file__).resolve().parents[1] / "Snakefile"),
           "--directory", str(work), "--configfile", str(cfg), "--cores", str(cores)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return out.stdout + out.stderr


@pytest.fixture(scope="session")
def run_workflow():
    """The function that runs the workflow end to end on a config dict (see _run_workflow)."""
    return _run_workflow
