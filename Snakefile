"""mpisweep sweep: config → (D, K) dictionary shards → fp.zarr → M0/M1/M2 fits → figures and report.

    snakemake --cores all                                  # config/config.yaml (make sweep)
    snakemake --cores all --configfile config/paper.yaml   # the paper's grids
    snakemake --report results/report.html                 # after a run

The rules are thin: each calls one `mpisweep` subcommand (src/mpisweep/cli.py) that reads the
resolved config `<output>/config.json`. The logic lives in mpisweep.config, .store, .scanner,
.measurement and .pipeline. See README "Sweep workflow".
"""

import importlib.util
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

REPO = Path(workflow.basedir)
if importlib.util.find_spec("mpisweep") is None:  # not installed: use the checkout
    sys.path.insert(0, str(REPO / "src"))

from mpisweep import config as msconfig  # noqa: E402

configfile: str(REPO / "config" / "config.yaml")


SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
try:
    # mpisweep.config names the offending key; snakemake's validate then fills the defaults too
    _VALIDATED = msconfig.validate(config, schema=str(SCHEMA))
    validate(config, schema=str(SCHEMA), set_default=True)
    RESOLVED = msconfig.resolve(_VALIDATED)
except msconfig.ConfigError as _err:
    raise WorkflowError(f"invalid configuration: {_err}") from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/dictionary.smk"
include: "workflow/rules/measurement.smk"
include: "workflow/rules/fit.smk"


# The markers and shards are targets too: deleting one recomputes that block (and what uses it).
rule all:
    input:
        MARKERS,
        SHARDS,
        FIT_OUTPUTS,
        FIGURE_OUTPUTS,
    default_target: True
