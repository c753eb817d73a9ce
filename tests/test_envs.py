"""The lock (envs/constraints.txt), pyproject's ranges and the conda environment agree.

pyproject.toml declares compatible ranges; the lock pins every installed package exactly (what
`make` installs); envs/mpisweep.yaml pins the runtime dependencies for `--sdm conda` at the lock's
versions.
"""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "envs" / "constraints.txt"

# PyPI and conda-forge spell a few names differently (none at present).
CONDA_NAME: dict[str, str] = {}


def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^;\s]+)", line).groups()
        assert canonicalize_name(name) not in pins, f"{name} pinned twice in the lock"
        pins[canonicalize_name(name)] = version
    return pins


def conda_pins(path) -> dict[str, str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pins = {}
    for dep in deps:
        if isinstance(dep, str) and "=" in dep:
            name, version = dep.split("=", 1)
            pins[canonicalize_name(name)] = version
    return pins


def test_the_lock_satisfies_every_declared_range():
    pins = lock_pins()
    meta = project()
    requirements = meta["dependencies"] + [r for extra in meta["optional-dependencies"].values() for r in extra]
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is declared in pyproject.toml but not pinned in {LOCK.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK.name} pins {req.name}=={pins[name]}, outside pyproject's range {req.specifier}")


def test_pyproject_declares_ranges_not_pins():
    for text in project()["dependencies"]:
        assert "==" not in text, f"{text}: pyproject.toml declares ranges; exact versions belong in the lock"


def test_every_conda_env_pins_the_lock_versions():
    pins = lock_pins()
    runtime = {canonicalize_name(Requirement(r).name) for r in project()["dependencies"]}
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs, "envs/ has no conda environment file"
    for env in envs:
        conda = conda_pins(env)
        conda.pop("python", None)
        assert runtime <= {CONDA_NAME.get(n, n) for n in conda}, f"{env.name} misses {sorted(runtime - set(conda))}"
        for name, version in conda.items():
            assert pins.get(CONDA_NAME.get(name, name)) == version, (
                f"{env.name} pins {name}={version}, the lock {pins.get(name)}")
