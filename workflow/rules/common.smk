# Shared names for the rules: output paths, job lists and the spec files that decide reruns.
#
# Rerun policy. Every job reads the resolved config from a content-addressed file
# <output>/.resolved/<config hash>.json, written here at parse time (never rewritten, so a job
# never sees it change under it) and passed on the command line, not as an input. What a job
# depends on is declared through small spec files <output>/specs/<name>.json, one per concern,
# each rewritten only when its own hash changes (params trigger):
#   config      the whole resolved config    → assemble, m0_dictionary, fit (cheap to redo)
#   dictionary  what determines one block    → simulate
#   component_* one virtual-scanner component → virtual_component
#   virtual     mixture, noise, transfer fn  → virtual_scanner
#   check       measurement source + scanner → check_measurement
# So a new fit rank or SNR never recomputes a dictionary block, a new particle constant
# recomputes all of them, and a new grid value adds only its new blocks. simulate waits for the
# measurement check through ancient() input: a changed measurement does not invalidate the
# dictionary.

import json

from mpisweep import scanner as msscanner
from mpisweep import measurement as msmeasurement

OUT = RESOLVED["output"]
# With --sdm conda every rule runs in envs/mpisweep.yaml (pins = pyproject.toml) and calls that
# environment's python; otherwise the interpreter that runs Snakemake (the project's .venv).
CONDA_ENV = str(REPO / "envs" / "mpisweep.yaml")
try:
    from snakemake.settings.types import DeploymentMethod

    USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
except (ImportError, AttributeError):
    USE_CONDA = False
MPISWEEP = "python -m mpisweep" if USE_CONDA else f'"{sys.executable}" -m mpisweep'
SERIAL = "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1;"
CONFIG_HASH = msconfig.config_hash(RESOLVED)
RESOLVED_JSON = f"{OUT}/.resolved/{CONFIG_HASH}.json"
if not os.path.exists(RESOLVED_JSON):
    msconfig.write_resolved(RESOLVED, RESOLVED_JSON)

BLOCKS = {name: (d, k) for name, d, k in msconfig.blocks(RESOLVED)}
COMPONENTS = dict(msconfig.components(RESOLVED))

SHARDS = [f"{OUT}/dictionary/shards/{name}.zarr" for name in BLOCKS]
MARKERS = [f"{OUT}/dictionary/markers/{name}.json" for name in BLOCKS]

MEASUREMENT_DIR = f"{OUT}/measurement"
if RESOLVED["measurement"]["source"] == "virtual":
    MEASURED_FILES = [str(p) for p, _ in msscanner.measurement_files(RESOLVED)]
    MEASURED_INDEX = [f"{MEASUREMENT_DIR}/calibrations.csv"]
else:
    try:
        MEASURED_FILES = [str(e["file"]) for e in msmeasurement.index(RESOLVED)]
    except msmeasurement.MeasurementError as _err:
        raise WorkflowError(f"measured data: {_err}") from None
    _m = RESOLVED["measurement"]["mdf"]
    MEASURED_INDEX = [str(Path(_m["directory"]) / _m.get("csv", "calibrations.csv"))]

# the spec files (see the top of this file)
_SCANNER = {k: RESOLVED[k] for k in ("scanner", "offsets")} | {
    "angles_deg": RESOLVED["grids"]["angles_deg"], "bins": RESOLVED["frequencies"]["bins"]}
SPECS = {
    "config": RESOLVED,
    "dictionary": msconfig.dictionary_spec(RESOLVED),
    "virtual": {"virtual": RESOLVED["measurement"]["virtual"], "scanner": _SCANNER, "output": OUT},
    "check": {"measurement": RESOLVED["measurement"], "scanner": _SCANNER, "output": OUT},
} | {f"component_{name}": msconfig.component_spec(RESOLVED, c) for name, c in COMPONENTS.items()}
SPEC_HASHES = {name: msconfig.digest(spec) for name, spec in SPECS.items()}


def spec(name):
    return f"{OUT}/specs/{name}.json"


FIT_DIR = f"{OUT}/fits"
FIT_TABLES = {
    "m0": f"{FIT_DIR}/m0_eps_global.csv",
    "m1": f"{FIT_DIR}/m1_eps_global.csv",
    "m2": f"{FIT_DIR}/m2_eps_global.csv",
    "weights": f"{FIT_DIR}/m2_weights.csv",
    "eps_freq": f"{FIT_DIR}/eps_freq.csv",
    "eps_rows": f"{FIT_DIR}/eps_rows.csv",
    "summary": f"{FIT_DIR}/summary.json",
}
MODELS = f"{FIT_DIR}/models.zarr"
FIT_OUTPUTS = list(FIT_TABLES.values()) + [MODELS]

# Figures: mpisweep.figures (render_all) names its files in FILE_NAMES; one caption per figure in
# workflow/report/<key>.rst, falling back to the workflow description.
try:
    from mpisweep.figures import FILE_NAMES as FIGURE_FILES
except ImportError:
    FIGURE_FILES = {}
FIGURE_DIR = f"{OUT}/figures"
FIGURE_OUTPUTS = [f"{FIGURE_DIR}/{name}" for name in FIGURE_FILES.values()]


def caption(key):
    path = REPO / "workflow" / "report" / f"{key}.rst"
    return str(path if path.exists() else REPO / "workflow" / "report" / "workflow.rst")


wildcard_constraints:
    block=r"D[0-9.]+_K[0-9.]+",
    comp=r"D[0-9.]+_K[0-9.]+",
    spec=r"[A-Za-z0-9_.]+",


localrules: all, spec


rule spec:
    output:
        f"{OUT}/specs/{{spec}}.json",
    params:
        hash=lambda w: SPEC_HASHES[w.spec],
    run:
        msconfig.write_resolved(SPECS[wildcards.spec], output[0])
