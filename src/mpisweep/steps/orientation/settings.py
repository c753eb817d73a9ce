"""Reconstruction settings chosen from the calibration itself (``orientation.reconstruction``: ``auto``).

The calibration scans are delta samples at known positions and easy-axis angles: column p of the
measured system matrix of angle α is the signal of one sample at pixel p with angle α. Reconstructed
and read out like a phantom (:func:`mpisweep.orientation.readout.read_out`), a few of them score a
setting (λ_rel, SNR threshold, row weighting) with no phantom truth at all:

* model matrices (M1, M2, M3) come from the fit, so the measured scans are independent data: all
  held-out scans are reconstructed with every contrast;
* the measured matrices contain the scans themselves: the scans of each angle are reconstructed with
  that angle left out of A (its neighbours then 2Δα apart around the truth), in turn for every angle.
  With fewer than three angles the scans stay in A, which favours a small λ_rel; a warning says so.

Held-out scans: ``auto.scans`` pixels drawn with ``auto.seed`` from the grid's interior (one pixel in
from the edge), the same pixels for every angle and every system-matrix set. Where the phantoms are
noisier than the calibration (the median over the rows of SNR_calibration / SNR_phantoms, κ, exceeds
1), the scans get complex Gaussian noise of σ_cal·√(κ² − 1) per row, so that they are scored at the
phantoms' noise level.

The search is coordinate-wise over the candidates of ``auto``, from the middle λ_rel and threshold and
no weighting: every λ_rel, then every threshold, then every weighting, each at the best of the others,
and once more while a pass changes something (at most three passes; every setting is reconstructed
once). An explicit value is held fixed. The best setting has the lowest angle mean absolute error of
the scans (then the lowest 95th percentile, then the lowest position error; angles compared to 0.01°,
where a tie keeps the current value) among those whose mean position error is at most 0.5 pixel,
where any is.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass

import numpy as np

from ...errors import MpisweepError
from ...io.atomic import write_csv
from ...orientation.kaczmarz import kaczmarz_parallel, regularization
from ...orientation.readout import read_out, wrap_angle
from ...orientation.system import row_weights, select_rows, stack

AUTO = "auto"
KEYS = ("lambda_rel", "snr_threshold", "weighting")
POSITION_LIMIT_PX = 0.5
MIN_ANGLES_TO_LEAVE_OUT = 3  # with fewer, the measured matrices keep the held-out scans (and say so)
MAX_PASSES = 3
SCORE_COLUMNS = ["lambda_rel", "snr_threshold", "weighting", "rows", "scans", "angle_mae_deg", "angle_p95_deg",
                 "position_mean_px", "chosen", "note"]


@dataclass(frozen=True)
class Setting:
    """One reconstruction setting: λ_rel, the SNR threshold (None = every row) and the row weighting."""

    lambda_rel: float
    snr_threshold: float | None
    weighting: str

    def describe(self) -> str:
        threshold = "every row" if self.snr_threshold is None else f"SNR ≥ {self.snr_threshold:g}"
        return f"λ_rel {self.lambda_rel:g}, {threshold}, weighting {self.weighting}"


@dataclass(frozen=True)
class RowNoise:
    """The SNR that selects rows, (n, C, K) with n the calibration angles (or 1 for the phantoms' own), and
    σ (C, K) of a row of the measurements for whitening; both None where the files offer no noise."""

    snr: np.ndarray | None
    sigma: np.ndarray | None
    source: str


@dataclass(frozen=True)
class System:
    """The weighted multi-contrast system of one setting: A (M, L·P), its rows (channel, bin) and weights, λ."""

    A: np.ndarray
    channel: np.ndarray
    k: np.ndarray
    weight: np.ndarray
    lam: float

    def rows_of(self, spectra: np.ndarray) -> np.ndarray:
        """(M, n) weighted measurement columns of spectra (n, C, K)."""
        return spectra[:, self.channel, self.k].T * self.weight[:, None]


def build_system(matrices: np.ndarray, setting: Setting, noise: RowNoise, freqs_hz: np.ndarray,
                 min_frequency: float) -> System:
    """A = [S_α1 … S_αL] on the setting's rows, weighted, and λ = λ_rel‖A‖²_F / columns
    (:mod:`mpisweep.orientation.system`)."""
    channel, k = select_rows(noise.snr, freqs_hz, min_frequency, setting.snr_threshold)
    sigma = None if noise.sigma is None else noise.sigma[channel, k]
    A = stack(matrices, channel, k)
    w = row_weights(A, setting.weighting, sigma)
    A = A * w[:, None]
    return System(A, channel, k, w, regularization(A, setting.lambda_rel))


@dataclass(frozen=True)
class HeldOut:
    """Held-out calibration scans: spectra (n, C, K), the calibration angle index of each and its pixel (y, x)."""

    spectra: np.ndarray
    angle: np.ndarray
    pixel_yx: np.ndarray


def held_out_scans(calibration: np.ndarray, shape: tuple[int, int], per_angle: int, rng) -> HeldOut:
    """`per_angle` interior pixels (the same for every angle) of the calibration (angle, C, K, P), P = ny·nx."""
    ny, nx = shape
    ys = np.arange(1, ny - 1) if ny >= 3 else np.arange(ny)
    xs = np.arange(1, nx - 1) if nx >= 3 else np.arange(nx)
    interior = np.array([(y, x) for y in ys for x in xs])
    pick = interior[np.sort(rng.choice(len(interior), size=min(per_angle, len(interior)), replace=False))]
    L = calibration.shape[0]
    p = pick[:, 0] * nx + pick[:, 1]
    spectra = np.concatenate([np.moveaxis(calibration[a][..., p], -1, 0) for a in range(L)])
    return HeldOut(spectra, np.repeat(np.arange(L), len(pick)), np.tile(pick.astype(float), (L, 1)))


def phantom_noise_factor(calibration_snr: np.ndarray | None, phantom_snr: np.ndarray | None,
                         freqs_hz: np.ndarray, min_frequency: float) -> float:
    """κ = median over the rows above min_frequency of SNR_calibration / SNR_phantoms (1 where either is unknown)."""
    if calibration_snr is None or phantom_snr is None:
        return 1.0
    cal = np.mean(calibration_snr, axis=0)
    ok = (freqs_hz[None, :] >= min_frequency) & np.isfinite(cal) & (cal > 0) & (phantom_snr > 0) \
        & np.isfinite(phantom_snr)
    return float(np.median(cal[ok] / phantom_snr[ok])) if np.any(ok) else 1.0


def add_noise(held: HeldOut, sigma_calibration: np.ndarray, kappa: float, rng) -> HeldOut:
    """The scans with complex Gaussian noise of σ_cal·√(κ² − 1) per row (none for κ ≤ 1)."""
    if kappa <= 1.0:
        return held
    s = np.where(np.isfinite(sigma_calibration), sigma_calibration, 0.0) * math.sqrt(kappa ** 2 - 1.0)
    shape = held.spectra.shape
    noise = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * (s[None] / math.sqrt(2))
    return HeldOut(held.spectra + noise, held.angle, held.pixel_yx)


@dataclass(frozen=True)
class Score:
    """How one setting reads the held-out scans (inf where it cannot be used, with the reason in note)."""

    setting: Setting
    rows: int
    scans: int
    angle_mae_deg: float
    angle_p95_deg: float
    position_mean_px: float
    note: str = ""

    def key(self) -> tuple:
        """Sort key, best first; angles to 0.01° and positions to 0.01 px, so that a difference the scans cannot
        resolve is a tie."""
        return (not self.position_mean_px <= POSITION_LIMIT_PX, round(self.angle_mae_deg, 2),
                round(self.angle_p95_deg, 2), round(self.position_mean_px, 2))

    def describe(self) -> str:
        if self.note:
            return f"{self.setting.describe()}: {self.note}"
        return (f"{self.setting.describe()}: {self.rows} rows, held-out angle MAE {self.angle_mae_deg:.2f}°, "
                f"p95 {self.angle_p95_deg:.2f}°, position {self.position_mean_px:.2f} px")


@dataclass
class HeldOutScorer:
    """Scores settings on held-out scans with one system-matrix set (see the module docstring).

    matrices (L, C, K, P) with contrast angles `angles`; `true_yx` (n, 2) the scans' pixels on the
    matrices' image grid of `shape`; `leave_out` for the measured matrices (each scan's angle left out).
    """

    matrices: np.ndarray
    angles: list[float]
    shape: tuple[int, int]
    held: HeldOut
    scan_angles: np.ndarray  # (n,) true angle of each scan, degrees
    true_yx: np.ndarray
    leave_out: bool
    noise: RowNoise
    freqs_hz: np.ndarray
    min_frequency: float
    sweeps: int
    radius: float
    single: bool = True
    workers: int = 1

    def groups(self):
        """(contrasts kept, scans) per reconstruction: one for model matrices, one per left-out angle."""
        L = len(self.angles)
        if not self.leave_out:
            return [(np.arange(L), np.arange(len(self.held.angle)))]
        return [(np.delete(np.arange(L), a), np.nonzero(self.held.angle == a)[0]) for a in range(L)]

    def score(self, setting: Setting) -> Score:
        angle_err, pos_err, rows = [], [], 0
        ny, nx = self.shape
        for keep, scans in self.groups():
            try:
                system = build_system(self.matrices[keep], setting, self.noise, self.freqs_hz, self.min_frequency)
            except MpisweepError as e:
                return Score(setting, 0, 0, math.inf, math.inf, math.inf, note=str(e).split(";")[0])
            rows = system.A.shape[0]
            C = kaczmarz_parallel(system.A, system.rows_of(self.held.spectra[scans]), system.lam, self.sweeps,
                                  single=self.single, workers=self.workers)
            angles = [self.angles[i] for i in keep]
            for c, s in zip(C.T.reshape(len(scans), len(keep), ny, nx), scans):
                r = read_out(c, angles, self.radius)
                angle_err.append(abs(float(wrap_angle(r.angle_deg - self.scan_angles[s]))))
                pos_err.append(float(np.hypot(*(r.position_yx - self.true_yx[s]))))
        e = np.asarray(angle_err)
        return Score(setting, rows, e.size, float(e.mean()), float(np.percentile(e, 95)), float(np.mean(pos_err)))


def fixed_values(rec) -> dict:
    """The configured value of each key of :data:`KEYS` ("auto" where it is to be chosen)."""
    return {key: getattr(rec, key) for key in KEYS}


def candidates(rec, noise: RowNoise) -> dict:
    """Each key's options: its explicit value, or the auto candidates usable with the files' noise."""
    options = {}
    for key, value in fixed_values(rec).items():
        if value != AUTO:
            options[key] = [value]
            continue
        values = list(getattr(rec.auto, key))
        if noise.snr is None and key == "snr_threshold":
            values = [None]  # no noise: rows by frequency only
        if noise.sigma is None and key == "weighting":
            values = [w for w in values if w != "whitening"] or ["none"]
        options[key] = values
    return options


def search(options: dict, score, log=print) -> tuple[Setting, list[Score]]:
    """Coordinate search over `options` (see the module docstring); the best setting and every score."""
    current = {"lambda_rel": options["lambda_rel"][len(options["lambda_rel"]) // 2],
               "snr_threshold": options["snr_threshold"][len(options["snr_threshold"]) // 2],
               "weighting": "none" if "none" in options["weighting"] else options["weighting"][0]}
    done: dict[Setting, Score] = {}

    def evaluate(setting: Setting) -> Score:
        if setting not in done:
            start = time.perf_counter()
            done[setting] = score(setting)
            log(f"  {done[setting].describe()} ({time.perf_counter() - start:.1f} s)")
        return done[setting]

    evaluate(Setting(**current))
    for _ in range(MAX_PASSES):
        changed = False
        for key in KEYS:
            if len(options[key]) < 2:
                continue
            values = [current[key]] + [v for v in options[key] if v != current[key]]  # a tie keeps the current
            best = min((evaluate(Setting(**(current | {key: v}))) for v in values), key=Score.key)
            if getattr(best.setting, key) != current[key]:
                current[key], changed = getattr(best.setting, key), True
        if not changed:
            break
    best = min([done[Setting(**current)], *done.values()], key=Score.key)  # a tie keeps the search's answer
    if not math.isfinite(best.angle_mae_deg):
        raise MpisweepError("orientation.reconstruction auto: no candidate setting could be used: "
                            + "; ".join(s.describe() for s in done.values()))
    return best.setting, list(done.values())


def write_scores(path, scores: list[Score], chosen: Setting) -> None:
    """Every scored setting, the chosen one marked, as a CSV table."""
    rows = [{"lambda_rel": s.setting.lambda_rel,
             "snr_threshold": "" if s.setting.snr_threshold is None else s.setting.snr_threshold,
             "weighting": s.setting.weighting, "rows": s.rows, "scans": s.scans,
             "angle_mae_deg": s.angle_mae_deg, "angle_p95_deg": s.angle_p95_deg,
             "position_mean_px": s.position_mean_px, "chosen": s.setting == chosen, "note": s.note}
            for s in sorted(scores, key=Score.key)]
    write_csv(path, rows, SCORE_COLUMNS)


def read_scores(path) -> list[dict]:
    """The rows of a table written by :func:`write_scores`, with typed values ("setting": a :class:`Setting`)."""
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            setting = Setting(float(r["lambda_rel"]), None if r["snr_threshold"] == "" else float(r["snr_threshold"]),
                              r["weighting"])
            out.append({"setting": setting, "rows": int(r["rows"]), "scans": int(r["scans"]),
                        "angle_mae_deg": float(r["angle_mae_deg"]), "angle_p95_deg": float(r["angle_p95_deg"]),
                        "position_mean_px": float(r["position_mean_px"]), "chosen": r["chosen"] == "True",
                        "note": r["note"]})
    return out


def chosen(path) -> dict:
    """The chosen row of a table written by :func:`write_scores`."""
    return next(r for r in read_scores(path) if r["chosen"])
