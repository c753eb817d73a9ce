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
