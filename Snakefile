"""mpisweep sweep: config → (D, K) dictionary shards → fp.zarr (+ m0.zarr, m0a.zarr) → M0/M0a/M1/M2/M3 fits
→ figures and report; with orientation.enabled also phantoms → model matrices → reconstruction → readout.

    snakemake --cores all                                  # config/config.yaml (make sweep)
    snakemake --cores all --configfile config/paper.yaml   # the paper's grids
    snakemake --report results/report.html                 # after a run

The rules are thin: each calls one `mpisweep` subcommand that reads the resolved config
<output>/.resolved/<hash>.json. The logic lives in the package: workflow/rules/<stage>.smk calls
mpisweep.steps.<stage>, and every output path comes from mpisweep.sweep.layout. See the docs'
"Sweep workflow" page.
"""

import importlib.util
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

if importlib.util.find_spec("mpisweep") is None:  # not installed: use the checkout
    sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from mpisweep.errors import MpisweepError  # noqa: E402
from mpisweep.sweep import Sweep  # noqa: E402
from mpisweep.sweep.config import without_foreign_defaults  # noqa: E402
from mpisweep.sweep.schema import read_yaml  # noqa: E402
from mpisweep.sweep.in_use import claim as claim_output  # noqa: E402
from mpisweep.sweep.cost import prepare_run  # noqa: E402
from mpisweep.sweep.in_use import release as release_output  # noqa: E402
from mpisweep.sweep.in_use import stale_lock_hint  # noqa: E402

_DEFAULT_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")


configfile: _DEFAULT_CONFIG


try:
    # Snakemake's loader silently keeps the last of a key written twice: read every config file
    # (the default and each --configfile) with the loader that refuses it
    _files = {os.path.abspath(f): read_yaml(f) for f in workflow.configfiles}
    _own = [c for f, c in _files.items() if f != os.path.abspath(_DEFAULT_CONFIG)]
    # validated against the schema, defaults filled, resolved to SI: errors name the key
    # (a Brownian sweep drops what only the Néel default config gave it)
    SWEEP = Sweep.load(without_foreign_defaults(config, _own))
except MpisweepError as _err:
    raise WorkflowError(f"invalid configuration: {_err}") from None
if _hint := stale_lock_hint(os.getcwd(), SWEEP.output):
    print(_hint, file=sys.stderr)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/specs.smk"
include: "workflow/rules/dictionary.smk"
include: "workflow/rules/measurement.smk"
include: "workflow/rules/refine.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/orientation.smk"


onstart:
    claim_output(SWEEP.output)
    # the resolved config and the job plan that every job reads
    prepare_run(SWEEP, JOBS.values())


onsuccess:
    release_output(SWEEP.output)


onerror:
    release_output(SWEEP.output)


# Every output of the sweep; markers, shards and stores too, so deleting one recomputes it.
rule all:
    default_target: True
    input:
        simulated(LAYOUT.marker),
        simulated(LAYOUT.shard),
        REFINE_OUTPUTS,
        LAYOUT.fp,
        LAYOUT.m0,
        M0A_STORES,
        FIT_OUTPUTS,
        FIGURE_OUTPUTS,
        ANGLE_OUTPUTS,
        ORIENTATION_OUTPUTS,
