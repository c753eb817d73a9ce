"""The conda environment file pins exactly what pyproject.toml pins."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# PyPI and conda-forge spell a few names differently.
CONDA_NAME = {"pyyaml": "pyyaml"}


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for req in project["dependencies"]:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", req.strip()).groups()
        pins[CONDA_NAME.get(name.lower(), name.lower())] = version
    return pins


def conda_pins(path):
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pins = {}
    for dep in deps:
        if isinstance(dep, str) and "=" in dep:
            name, version = dep.split("=", 1)
            pins[name.lower()] = version
    return pins


def test_every_conda_env_matches_pyproject_pins():
    expected = pyproject_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs, "envs/ has no conda environment file"
    for env in envs:
        pins = conda_pins(env)
        pins.pop("python", None)
        assert pins == expected, f"{env.name} disagrees with pyproject.toml"
