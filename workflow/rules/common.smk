# Names the rules share: paths (all from mpisweep.sweep.layout), job lists, the command.
# Functions and constants only; the rules live in the other files.

import json
import shlex

from mpisweep.errors import MpisweepError
from mpisweep.figures import FILE_NAMES as FIGURE_FILES
from mpisweep.io.atomic import write_json, write_text
from mpisweep.sweep import cost as mscost
from mpisweep.sweep import measured as msmeasurement
from mpisweep.steps.refine.rounds import round_blocks
from mpisweep.steps.refine.screening import screening_chunks
from mpisweep.sweep.specs import all_specs, spec_hashes
from mpisweep.steps.measurement.virtual_scanner import measurement_files

LAYOUT = SWEEP.layout
# Every job reads this content-addressed copy of the resolved config, written once by the workflow's
# `onstart` handler (Snakefile) and never rewritten, so a job never sees it change under it. What a
# job depends on is declared through the spec files instead (mpisweep.sweep.specs).
RESOLVED_JSON = str(LAYOUT.resolved_config(SWEEP.config_hash))

# With --sdm conda every rule runs in envs/mpisweep.yaml (the lock envs/constraints.txt) and calls that
# environment's python; otherwise the interpreter that runs Snakemake (the project's .venv).
CONDA_ENV = "../../envs/mpisweep.yaml"
try:
    from snakemake.settings.types import DeploymentMethod

    USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
except (ImportError, AttributeError):
    USE_CONDA = False
# The rules' interpreter and config reach their commands through the shell prefix (Snakemake's hook
# for what every shell command starts with), not as params: a param change reruns a job, and neither
# the interpreter's path nor the config hash (which changes with every grid value) decides what a
# block contains; the spec files do. One thread per job for the numerical libraries (the fit rule
# sets its own). A cluster job parses the Snakefile again, so it gets the same prefix.
RULE_ENV = {
    "MPISWEEP_PYTHON": "python" if USE_CONDA else sys.executable,
    "MPISWEEP_CONFIG": RESOLVED_JSON,
    **dict.fromkeys(
        (
            "OMP_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "MKL_NUM_THREADS",
            "NUMBA_NUM_THREADS",
        ),
        "1",
    ),
}
shell.prefix(
    "set -euo pipefail; export "
    + " ".join(f"{key}={shlex.quote(value)}" for key, value in RULE_ENV.items())
    + "; "
)

BLOCKS = {name: (d, k) for name, d, k in SWEEP.blocks}
# the step commands' option for the second grid parameter: --anisotropy (neel) or --hydrodynamic-diameter (brown)
PARAMETER_FLAG = SWEEP.parameter.flag
COMPONENTS = dict(SWEEP.components)
# The simulate jobs (mpisweep.sweep.cost): one per block, or per part (mirror-paired angles) of a
# block too heavy for cluster.max_job_minutes, each with its planned runtime and memory.
try:
    JOBS = {job.name: job for job in mscost.plan_jobs(SWEEP)}
except MpisweepError as _err:
    raise WorkflowError(f"invalid configuration: {_err}") from None

# Cluster groups: jobs packed into Slurm jobs of at most cluster.max_job_minutes (a group runs its
# members one after another, so Snakemake sums their runtimes), unfinished jobs first. Every
# planned group id counts as group "simulate" for the profile's group-components, which then
# merges all jobs of one id (Snakemake otherwise only merges jobs connected in the DAG).
SIMULATE_GROUPS = mscost.group_jobs(
    JOBS.values(),
    SWEEP.cluster.max_job_minutes,
    first=[name for name in JOBS if not LAYOUT.marker(name).exists()],
)
workflow.parent_groupids.update(dict.fromkeys(SIMULATE_GROUPS.values(), "simulate"))

# Coarse-to-fine (config refine.enabled, workflow/rules/refine.smk): only the blocks the rounds chose are
# simulated, assembled and fitted; the rounds are a checkpoint, so these lists are input functions.
REFINE = SWEEP.refine.enabled
# block → the names of its simulate jobs (one, or its planned parts)
BLOCK_JOBS = {}
for _name, _job in JOBS.items():
    BLOCK_JOBS.setdefault(_job.block, []).append(_name)


def refine_round_blocks(index):
    """The blocks round `index` fits: the coarse subgrid, or what round index − 1 chose (a checkpoint)."""
    if index == 0:
        return round_blocks(SWEEP, None)
    with open(checkpoints.refine.get(round=index - 1).output[0]) as f:
        return json.load(f)["next"]


def job_files(blocks, path):
    """`path(job)` (LAYOUT.marker or LAYOUT.shard) of every simulate job of the named blocks."""
    return [str(path(job)) for block in blocks for job in BLOCK_JOBS[block]]


def final_round(wildcards=None):
    """The last round's JSON: the rounds are followed, checkpoint by checkpoint, until one says done."""
    index = 0
    while True:
        path = checkpoints.refine.get(round=index).output[0]
        with open(path) as f:
            if json.load(f)["done"]:
                return path
        index += 1


def refined_flag(wildcards, input):
    """Params function: `--refined <last round>` for a refined sweep's assemble and M0a, else nothing."""
    return f"--refined {input.refined}" if input.refined else ""


def refined_files(path):
    """Input function: `path` of the jobs of the blocks the refined sweep simulated."""

    def files(wildcards):
        with open(final_round()) as f:
            return job_files(json.load(f)["blocks"], path)

    return files


# Multi-fidelity rounds (refine.screening): round 0 fits the whole grid at the screening fidelity, simulated
# by one `screen` job per diameter (mpisweep.steps.refine.screening).
SCREENING = REFINE and SWEEP.refine.screening is not None
SCREEN_CHUNKS = screening_chunks(SWEEP) if SCREENING else {}
REFINE_OUTPUTS = (
    [str(LAYOUT.refine_table)] + ([str(LAYOUT.screening_eps)] if SCREENING else [])
    if REFINE
    else []
)


def simulated(path):
    """What the assembled dictionary and `all` need of every simulate job: all of them, or a refined sweep's."""
    return refined_files(path) if REFINE else [str(path(name)) for name in JOBS]


if SWEEP.source == "virtual":
    MEASURED_FILES = [str(path) for path, _ in measurement_files(SWEEP)]
else:
    try:
        MEASURED_FILES = [str(entry["file"]) for entry in msmeasurement.index(SWEEP)]
    except MpisweepError as _err:
        raise WorkflowError(f"measured data: {_err}") from None
MEASURED_INDEX = str(msmeasurement.index_path(SWEEP))
# the measured transfer function the fit checks (fit.transfer_function.path): a changed file reruns the fit
TRANSFER_FUNCTION_FILE = (
    [SWEEP.fit.transfer_function.path] if SWEEP.fit.transfer_function.path else []
)
# measured files are checked before the dictionary is simulated; the virtual scanner's files
# match the config by construction, so its dictionary does not wait for them
WARMUP_INPUT = [str(LAYOUT.check)] if SWEEP.source == "mdf" else []

SPECS = all_specs(SWEEP)
SPEC_HASHES = spec_hashes(SWEEP)

# M0a (anisotropic equilibrium) and the angle conventions exist for immobilised (Néel) particles only
NEEL = SWEEP.model == "neel"
M0A_STORES = [str(LAYOUT.m0a)] if NEEL else []
FIT_TABLES = {
    key: str(path) for key, path in LAYOUT.fit_tables.items() if NEEL or key != "m0a"
}
FIT_OUTPUTS = list(FIT_TABLES.values()) + [str(LAYOUT.models)]
ANGLE_OUTPUTS = (
    [str(LAYOUT.angle_conventions)] if SWEEP.source == "mdf" and NEEL else []
)
FIGURES = {
    key: name for key, name in FIGURE_FILES.items() if NEEL or key != "eps_global_m0a"
}
FIGURE_OUTPUTS = [str(LAYOUT.figure(name)) for name in FIGURES.values()]


def spec(name):
    """The spec file of one concern (an input that reruns a job only when its concern changes)."""
    return str(LAYOUT.spec(name))


def caption(key):
    """The report caption of one figure, falling back to the workflow description."""
    path = Path(workflow.basedir) / "workflow" / "report" / f"{key}.rst"
    return str(
        path
        if path.exists()
        else Path(workflow.basedir) / "workflow" / "report" / "workflow.rst"
    )


wildcard_constraints:
    block=r"D[0-9.]+_[KH][0-9.]+(_part[0-9]+of[0-9]+)?",
    chunk=r"D[0-9.]+",
    comp=r"D[0-9.]+_[KH][0-9.]+",
    spec=r"[A-Za-z0-9_.]+",


# Orientation imaging (config orientation.enabled): system-matrix sets and their outputs.
ORIENTATION = SWEEP.orientation.enabled
ORIENTATION_MODELS = list(SWEEP.orientation.models) if ORIENTATION else []
FIT_MODELS_FOR_ORIENTATION = [m for m in ORIENTATION_MODELS if m != "measured"]
VIRTUAL_PHANTOMS = SWEEP.orientation.phantoms.source == "virtual"
ORIENTATION_OUTPUTS = (
    [str(LAYOUT.orientation_summary)]
    + [
        str(LAYOUT.figure(f))
        for f in ("orientation_errors.png", "orientation_maps.png")
    ]
    if ORIENTATION
    else []
)


def reconstruct_inputs(wildcards):
    """The model matrices (not for "measured"), the calibration files and the phantoms."""
    inputs = {"spec": spec("orientation"), "files": MEASURED_FILES}
    if wildcards.model != "measured":
        inputs["matrices"] = str(LAYOUT.model_matrices(wildcards.model))
    if VIRTUAL_PHANTOMS:
        inputs["phantoms"] = str(LAYOUT.phantom_index)
        inputs["truth"] = str(LAYOUT.phantom_truth)
    return inputs
