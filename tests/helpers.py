"""What several test modules share: the one builder of Snakemake command lines (which refuses to run for a
test without the `workflow` marker, so the quick tier never starts a workflow), the real files read from
../shared/data (a test skips with one line without them), an MDF file laid out like a real robot scan,
and a copy of a finished workflow directory for a test that changes it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
# Real files from other projects are never copied into the repository: they stay beside it, read-only.
SHARED_DATA = REPO.parent / "shared" / "data"

# the test being run (set by tests/conftest.py around each test's setup, call and teardown)
current_test: pytest.Item | None = None


def require_marker(marker: str, what: str) -> None:
    """Fail the running test unless it carries `marker`; `what` says what it was about to do."""
    item = current_test
    if item is not None and item.get_closest_marker(marker) is None:
        pytest.fail(f"{item.nodeid} {what} but is not marked {marker!r}: add @pytest.mark.{marker} "
                    f"(tiers: pyproject.toml [tool.pytest.ini_options] markers)", pytrace=False)


def snakemake_cmd(workdir, *args, config: dict | None = None, configfiles=(), entry: str | None = None) -> list[str]:
    """The command line of Snakemake on the repository's Snakefile in `workdir`, with `args`.

    `config` is written to workdir/config.yaml and given after `configfiles` (so it overrides them);
    `entry`, Python source that runs Snakemake's CLI (e.g. GROUPS_ENTRY), replaces ``-m snakemake``.
    """
    require_marker("workflow", "starts Snakemake")
    files = [str(f) for f in configfiles]
    if config is not None:
        path = Path(workdir) / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        files.append(str(path))
    launcher = [sys.executable, "-m", "snakemake"] if entry is None else [sys.executable, "-c", entry]
    cmd = [*launcher, "--snakefile", str(SNAKEFILE), "--directory", str(workdir), *map(str, args)]
    return cmd + ["--configfile", *files] if files else cmd


def run_snakemake(workdir, *args, config: dict | None = None, configfiles=(), entry: str | None = None,
                  check: bool = False, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    """Run `snakemake_cmd(...)` with its output captured (`kw` to subprocess.run: env, cwd);
    `check` fails the test with the log's tail unless Snakemake succeeds."""
    cmd = snakemake_cmd(workdir, *args, config=config, configfiles=configfiles, entry=entry)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    return out


# Snakemake's CLI with, after Snakemake has formed the groups, each group's resources (GroupJob.resources:
# what the Slurm plugin requests) and its members' own resources dumped to $GROUP_DUMP as JSON.
GROUPS_ENTRY = r"""
import json, os, sys
from snakemake.cli import main
import snakemake.dag as dag

original = dag.DAG._update_group_components

def dump(self):
    original(self)
    groups = {}
    for group in set(self._group.values()):
        res = group.resources
        groups[group.groupid] = {
            "runtime": res["runtime"], "mem_mb": res["mem_mb"], "cpus": res.get("cpus_per_task"),
            "jobs": {j.wildcards["block"]: [j.resources["runtime"], j.resources["mem_mb"]] for j in group.jobs}}
    with open(os.environ["GROUP_DUMP"], "w") as f:
        json.dump(groups, f)

dag.DAG._update_group_components = dump
sys.argv[0] = "snakemake"
sys.exit(main())
"""


def shared_data(name: str) -> Path:
    """<repo>/../shared/data/<name>, a real file from another project; skips the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"needs ../shared/data/{name} (a real file from another project, not shipped)")
    return path


def steps_before_fit(sweep) -> tuple[dict, dict, dict]:
    """Every step the fit reads, in workflow order and without Snakemake: the virtual scanner's components and
    files (for measurement.source virtual), the measurement check, the dictionary blocks, assemble, M0 and M0a.
    Returns (the virtual scanner's truth or None, the check report, the blocks' markers by name)."""
    from mpisweep.steps.dictionary.assemble import assemble
    from mpisweep.steps.dictionary.m0_dictionary import build_m0
    from mpisweep.steps.dictionary.m0a_dictionary import build_m0a
    from mpisweep.steps.dictionary.simulate import simulate_shard
    from mpisweep.steps.measurement.check import check
    from mpisweep.steps.measurement.virtual_scanner import simulate_component, virtual_scanner

    truth = None  # measured files have none
    if sweep.source == "virtual":
        for name, comp in sweep.components:
            simulate_component(sweep, comp, sweep.layout.component(name), progress=False)
        truth = virtual_scanner(sweep)
    report = check(sweep)
    markers = {name: simulate_shard(sweep, d, k, progress=False) for name, d, k in sweep.blocks}
    assemble(sweep)
    build_m0(sweep)
    build_m0a(sweep)
    return truth, report, markers


def copy_run(source: Path, target: Path) -> Path:
    """A copy of a finished workflow directory with its files' times (Snakemake compares them), for a test
    that reruns or changes it while other tests read the original."""
    shutil.copytree(source, target, symlinks=True, copy_function=shutil.copy2)
    return target


def robot_mdf(path, samples: int = 152, positions: int = 9, seed: int = 0) -> Path:
    """An MDF 2.0 file laid out like a real 1D robot calibration of 2018 (../shared/data/systemMatrix.mdf):
    time-domain float32 frames (N, J, C, V) with the older flag /measurement/isTransposed, 125 MHz / 4864
    ≈ 25.7 kHz at 5 mT, one channel, a data conversion factor, no offset fields and no background.
    The samples are seeded noise plus the drive's odd harmonics: a format fixture, not physics."""
    import h5py

    rng = np.random.default_rng(seed)
    t = np.arange(samples) / samples
    signal = sum(np.sin(2 * np.pi * h * t) / h for h in (1, 3, 5, 7))
    data = (100 * signal + rng.normal(size=(positions, 1, 1, samples))).astype(np.float32)
    values = {
        "version": "2.0", "uuid": "00000000-0000-4000-8000-000000000001", "time": "2018-04-19T09:49:08.839",
        "study/name": "robot", "study/number": 0, "study/uuid": "00000000-0000-4000-8000-000000000002",
        "study/description": "", "experiment/name": "robot", "experiment/number": 0, "experiment/description": "",
        "experiment/subject": "", "experiment/isSimulation": np.int8(0),
        "experiment/uuid": "00000000-0000-4000-8000-000000000003",
        "scanner/facility": "", "scanner/manufacturer": "", "scanner/name": "", "scanner/operator": "",
        "scanner/topology": "FFP",
        "tracer/name": "", "tracer/batch": "", "tracer/vendor": "", "tracer/volume": 0.0, "tracer/concentration": 0.0,
        "tracer/solute": "Fe",
        "acquisition/startTime": "2018-04-19T09:49:08.814", "acquisition/numAverages": 1000,
        "acquisition/numFrames": positions, "acquisition/numPeriods": 1,
        "acquisition/gradient": np.zeros((1, 3)), "acquisition/offsetField": np.zeros((1, 3)),
        "acquisition/drivefield/baseFrequency": 125e6, "acquisition/drivefield/cycle": 4864 / 125e6,
        "acquisition/drivefield/divider": np.array([[4864]]), "acquisition/drivefield/numChannels": 1,
        "acquisition/drivefield/phase": np.zeros((1, 1, 1)),
        "acquisition/drivefield/strength": np.full((1, 1, 1), 5e-3),
        "acquisition/drivefield/waveform": "sine",
        "acquisition/receiver/bandwidth": 125e6 / 64, "acquisition/receiver/numChannels": 1,
        "acquisition/receiver/numSamplingPoints": samples, "acquisition/receiver/unit": "V",
        "acquisition/receiver/dataConversionFactor": np.array([[1.3e-4, 1.6e-2]]),
        "calibration/method": "robot", "calibration/order": "xyz", "calibration/size": np.array([positions, 1, 1]),
        "calibration/fieldOfView": np.array([0.09, 0.001, 0.001]),
        "calibration/fieldOfViewCenter": np.array([0.156, -0.0112, 0.071]),
        "measurement/data": data, "measurement/isBackgroundCorrected": np.int8(0),
        "measurement/isBackgroundFrame": np.zeros(positions, np.int8), "measurement/isFourierTransformed": np.int8(0),
        "measurement/isFramePermutation": np.int8(0), "measurement/isFrequencySelection": np.int8(0),
        "measurement/isSpectralLeakageCorrected": np.int8(0), "measurement/isTransferFunctionCorrected": np.int8(0),
        "measurement/isTransposed": np.int8(0),
    }
    with h5py.File(path, "w") as f:
        for key, value in values.items():
            f[key] = np.bytes_(value) if isinstance(value, str) else value
    return Path(path)
