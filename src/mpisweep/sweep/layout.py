"""Every output path of a sweep, in one place: the Snakefile and the code both ask this module.

Under ``<output>/`` (``results/`` by default)::

    .resolved/<config hash>.json         the resolved config every job reads
    specs/<concern>.json                 one spec per concern; decides what reruns (see specs.py)
    .warmup                              stamp: numba kernels compiled into the cache
    dictionary/shards/D22_K1100.zarr     one simulate job's rows
    dictionary/markers/D22_K1100.json    its sha256, L, rtol, periodicity, steps, wall time
    dictionary/fp.zarr                   all shards assembled (diameter, anisotropy, angle, ...)
    dictionary/m0.zarr                   Langevin (M0) rows
    dictionary/m0a.zarr                  anisotropic-equilibrium (M0a) rows
    measurement/<angle>.mdf              virtual scanner: one MDF per angle
    measurement/calibrations.csv, truth.json, check.json, components/D22_K1100.npz
    refine/round_<n>.json, rounds.csv    coarse-to-fine rounds (config refine.enabled)
    refine/screening_m1_eps_global.csv   M1's ε_global over the whole grid at the screening fidelity
    screening/                           the screening level (refine.screening): a sweep's layout of its own
    screening/chunks/D22.json            one screening job: the blocks of one diameter it simulated
    fits/*.csv, summary.json, config.json, models.zarr, mdf/<model>/<angle>.mdf
    orientation/phantoms/measurements.csv, measurements/<n>.mdf, truth.json   phantom measurements
    orientation/matrices/<model>.zarr, <model>/<angle>.mdf                   full-band model matrices
    orientation/reconstructions/<model>.zarr, readout/<model>.csv            reconstruction, readout
    orientation/settings/<model>.csv                                         settings scored on held-out scans
    orientation/summary.csv, summary.json                                    angle and position errors
    figures/*.png
    logs/<rule>[/<name>].log, benchmarks/<rule>/<name>.tsv
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .names import label

#: fit tables: key → file name under fits/ (user contract: the names stay)
FIT_TABLES = {
    "m0": "m0_eps_global.csv",
    "m1": "m1_eps_global.csv",
    "m2": "m2_eps_global.csv",
    "weights": "m2_weights.csv",
    "m0a": "m0a_eps_global.csv",
    "m3": "m3_eps_global.csv",
    "m3_weights": "m3_weights.csv",
    "m3_iterations": "m3_iterations.csv",
    "eps_freq": "eps_freq.csv",
    "eps_rows": "eps_rows.csv",
    "fields": "fields.csv",
    "transfer_function": "transfer_function.csv",
    "summary": "summary.json",
}


@dataclass(frozen=True)
class Layout:
    """Paths of one sweep's outputs below `output`."""

    output: str

    @property
    def root(self) -> Path:
        return Path(self.output)

    # ------------------------------------------------------------------ config and specs
    def resolved_config(self, config_hash: str) -> Path:
        return self.root / ".resolved" / f"{config_hash}.json"

    def newest_resolved_config(self) -> Path | None:
        """The resolved config written last (the one the latest run used), None before any run."""
        configs = [p for p in (self.root / ".resolved").glob("*.json") if not p.name.endswith(".jobs.json")]
        return max(configs, key=lambda p: p.stat().st_mtime, default=None)

    def job_plan(self, config_hash: str) -> Path:
        """The simulate jobs planned for one resolved config (cost.job_plan), written once beside it."""
        return self.root / ".resolved" / f"{config_hash}.jobs.json"

    @property
    def warmup(self) -> Path:
        """Stamp of the numba warm-up (compiled kernels in the cache)."""
        return self.root / ".warmup"

    def spec(self, name: str) -> Path:
        return self.root / "specs" / f"{name}.json"

    # ------------------------------------------------------------------------ dictionary
    @property
    def dictionary(self) -> Path:
        return self.root / "dictionary"

    @property
    def shards(self) -> Path:
        return self.dictionary / "shards"

    @property
    def markers(self) -> Path:
        return self.dictionary / "markers"

    def shard(self, block: str) -> Path:
        return self.shards / f"{block}.zarr"

    def marker(self, block: str) -> Path:
        return self.markers / f"{block}.json"

    @property
    def fp(self) -> Path:
        return self.dictionary / "fp.zarr"

    @property
    def m0(self) -> Path:
        return self.dictionary / "m0.zarr"

    @property
    def m0a(self) -> Path:
        return self.dictionary / "m0a.zarr"

    # ----------------------------------------------------------------------- measurement
    @property
    def measurement(self) -> Path:
        return self.root / "measurement"

    def virtual_file(self, angle_deg: float) -> Path:
        """The virtual scanner's MDF file for one easy-axis angle."""
        return self.measurement / f"{label(angle_deg)}.mdf"

    @property
    def virtual_index(self) -> Path:
        return self.measurement / "calibrations.csv"

    @property
    def truth(self) -> Path:
        return self.measurement / "truth.json"

    @property
    def check(self) -> Path:
        return self.measurement / "check.json"

    def component(self, name: str) -> Path:
        return self.measurement / "components" / f"{name}.npz"

    # ----------------------------------------------------------------- coarse-to-fine rounds
    @property
    def refine(self) -> Path:
        return self.root / "refine"

    def refine_round(self, index) -> Path:
        """One round of a refined sweep: the blocks it fitted, its answer, the blocks of the next round."""
        return self.refine / f"round_{index}.json"

    @property
    def screening(self) -> Path:
        """The screening level of multi-fidelity rounds: the root of its own layout (shards, markers)."""
        return self.root / "screening"

    def screening_chunk(self, name: str) -> Path:
        """One screening job's record: the blocks (of one diameter) it simulated at the screening fidelity."""
        return self.screening / "chunks" / f"{name}.json"

    @property
    def screening_eps(self) -> Path:
        """M1's ε_global over the whole grid at the screening fidelity (labelled so)."""
        return self.refine / "screening_m1_eps_global.csv"

    @property
    def refine_table(self) -> Path:
        """One row per round: blocks added, core-seconds spent, the answer."""
        return self.refine / "rounds.csv"

    # ------------------------------------------------------------------------------ fits
    @property
    def fits(self) -> Path:
        return self.root / "fits"

    def fit_table(self, key: str) -> Path:
        return self.fits / FIT_TABLES[key]

    @property
    def fit_tables(self) -> dict[str, Path]:
        return {key: self.fit_table(key) for key in FIT_TABLES}

    @property
    def angle_conventions(self) -> Path:
        """check-angles: ε_global of M1 under each candidate angle mapping (measured data only)."""
        return self.fits / "angle_conventions.csv"

    @property
    def fit_config(self) -> Path:
        return self.fits / "config.json"

    @property
    def models(self) -> Path:
        return self.fits / "models.zarr"

    def model_mdf(self, model: str, angle_deg: float) -> Path:
        return self.fits / "mdf" / model / f"{label(angle_deg)}.mdf"

    # --------------------------------------------------------------------------- figures
    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def figure(self, file_name: str) -> Path:
        return self.figures / file_name

    # ------------------------------------------------------------------------------ logs
    def log(self, rule: str, name: str | None = None) -> Path:
        return self.root / "logs" / (f"{rule}.log" if name is None else f"{rule}/{name}.log")

    def benchmark(self, rule: str, name: str) -> Path:
        return self.root / "benchmarks" / rule / f"{name}.tsv"

    # ----------------------------------------------------------------------- orientation
    @property
    def orientation(self) -> Path:
        return self.root / "orientation"

    @property
    def phantoms(self) -> Path:
        return self.orientation / "phantoms"

    @property
    def phantom_index(self) -> Path:
        """measurements.csv in the record's layout (experimentNumber, easyAxisOrientation, x, y, path)."""
        return self.phantoms / "measurements.csv"

    def phantom_file(self, number: int) -> Path:
        return self.phantoms / "measurements" / f"{number}.mdf"

    @property
    def phantom_truth(self) -> Path:
        return self.phantoms / "truth.json"

    def model_matrices(self, model: str) -> Path:
        """Full-band model system matrices of one fit model (M1, M2, M3) for all angles."""
        return self.orientation / "matrices" / f"{model}.zarr"

    def model_matrix_mdf(self, model: str, angle_deg: float) -> Path:
        return self.orientation / "matrices" / model / f"{label(angle_deg)}.mdf"

    def reconstruction(self, model: str) -> Path:
        return self.orientation / "reconstructions" / f"{model}.zarr"

    def readout(self, model: str) -> Path:
        return self.orientation / "readout" / f"{model}.csv"

    def reconstruction_settings(self, model: str) -> Path:
        """Every reconstruction setting scored on held-out calibration scans, the chosen one marked."""
        return self.orientation / "settings" / f"{model}.csv"

    @property
    def orientation_summary(self) -> Path:
        return self.orientation / "summary.csv"
