"""Shared fixtures: the reference results in tests/data (provenance: tests/data/README.md), the workflow
runner, and the tier guard: a test that starts Snakemake or uses the Slurm cluster carries the marker
`workflow` or `cluster`, so `make test-quick` (-m "not workflow and not cluster and not slow") starts
neither."""

from pathlib import Path

import helpers
import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"

# fixtures that start a tier's machinery: a test that uses one (directly or through another fixture)
# carries the tier's marker
TIER_FIXTURES = {"run_workflow": "workflow", "slurm_cluster": "cluster"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Tell the helpers which test runs (its setup, call and teardown): snakemake_cmd checks its marker."""
    helpers.current_test = item
    try:
        return (yield)
    finally:
        helpers.current_test = None


def pytest_runtest_setup(item):
    for fixture, marker in TIER_FIXTURES.items():
        if fixture in item.fixturenames:
            helpers.require_marker(marker, f"uses the fixture {fixture!r}")


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


def _run_workflow(work: Path, config: dict, *args, cores: int = 2) -> str:
    """Snakemake on the repository's Snakefile in `work` with `config` (written to work/config.yaml) merged
    over config/config.yaml, and `args`; fails the test with the log's tail unless it succeeds; returns the log."""
    out = helpers.run_snakemake(work, "--cores", str(cores), *args, config=config, check=True)
    return out.stdout + out.stderr


@pytest.fixture(scope="session")
def run_workflow():
    """The function that runs the workflow end to end on a config dict (see _run_workflow); a test that
    uses it, directly or through a fixture, is marked workflow."""
    return _run_workflow
