"""Reconstruction settings chosen on held-out calibration scans (orientation.reconstruction: auto)."""

from dataclasses import replace

import numpy as np
import pytest

from mpisweep.errors import MpisweepError
from mpisweep.steps.orientation.settings import (
    HeldOut,
    HeldOutScorer,
    RowNoise,
    Score,
    Setting,
    add_noise,
    candidates,
    held_out_scans,
    phantom_noise_factor,
    read_scores,
    search,
    write_scores,
)
from mpisweep.sweep import Sweep

ANGLES = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0]
SHAPE = (5, 5)


def calibration(seed=3, channels=2, bins=80):
    """(angle, C, K, P) rows of an axial sample: S(α) = Σ_n (cos 2nα Y_n + sin 2nα Z_n), n = 0…3, smooth in α and
    random in the pixel, with more rows than columns (every scan is one column and nothing else)."""
    rng = np.random.default_rng(seed)
    a = np.radians(2 * np.asarray(ANGLES))[:, None, None, None]
    out = 0
    for n in range(4):
        Y, Z = (rng.standard_normal((channels, bins, 25)) + 1j * rng.standard_normal((channels, bins, 25))
                for _ in range(2))
        out = out + np.cos(n * a) * Y[None] + np.sin(n * a) * Z[None] / (1 + n)
    return out


def scorer(cal, held, leave_out, sweeps=400):
    n = len(held.angle)
    noise = RowNoise(np.full((len(ANGLES),) + cal.shape[1:3], 50.0), np.ones(cal.shape[1:3]), "calibration")
    return HeldOutScorer(matrices=cal, angles=ANGLES, shape=SHAPE, held=held,
                         scan_angles=np.asarray(ANGLES)[held.angle], true_yx=held.pixel_yx, leave_out=leave_out,
                         noise=noise, freqs_hz=np.arange(cal.shape[2]) * 1e5, min_frequency=0.0, sweeps=sweeps,
                         radius=1.5, single=False) if n else None


def test_held_out_scans_are_interior_calibration_columns_the_same_for_every_angle():
    cal = calibration()
    held = held_out_scans(cal, SHAPE, 4, np.random.default_rng(0))
    assert len(held.angle) == 4 * len(ANGLES) and np.bincount(held.angle).tolist() == [4] * len(ANGLES)
    pixels = held.pixel_yx.reshape(len(ANGLES), 4, 2)
    assert np.all(pixels == pixels[:1]) and np.all((pixels >= 1) & (pixels <= 3))  # one pixel in from the edge
    for spectrum, a, (y, x) in zip(held.spectra, held.angle, held.pixel_yx.astype(int)):
        assert np.array_equal(spectrum, cal[a][..., y * SHAPE[1] + x])
    # more scans than interior pixels: every interior pixel once
    assert len(held_out_scans(cal, SHAPE, 50, np.random.default_rng(0)).angle) == 9 * len(ANGLES)


def test_the_scorer_reads_scans_that_are_columns_of_a_exactly_and_leaves_each_angle_out_for_the_measured_set():
    cal = calibration()
    held = held_out_scans(cal, SHAPE, 3, np.random.default_rng(1))
    inside = scorer(cal, held, leave_out=False).score(Setting(1e-4, None, "none"))
    assert inside.scans == len(held.angle) and inside.rows == 2 * 80
    assert inside.angle_mae_deg < 1.0 and inside.position_mean_px < 0.05, inside
    # measured matrices: the scans of each angle are reconstructed without that angle
    out = scorer(cal, held, leave_out=True)
    groups = out.groups()
    assert len(groups) == len(ANGLES)
    for a, (keep, scans) in enumerate(groups):
        assert a not in keep and len(keep) == len(ANGLES) - 1 and set(held.angle[scans]) == {a}
    left_out = out.score(Setting(1e-4, None, "none"))
    assert left_out.scans == inside.scans and left_out.angle_mae_deg > inside.angle_mae_deg
    # a threshold that leaves no row cannot be used, and says why
    none = out.score(Setting(1e-4, 100.0, "none"))
    assert np.isinf(none.angle_mae_deg) and "SNR ≥ 100" in none.note


def fake_score(setting: Setting, position=0.1) -> Score:
    """A separable score with its minimum at (0.1, 10, row_norm)."""
    mae = (np.log10(setting.lambda_rel) + 1) ** 2 + (setting.snr_threshold - 10) ** 2 / 100 + {
        "none": 1.0, "row_norm": 0.0, "whitening": 0.5}[setting.weighting]
    return Score(setting, 100, 10, mae, 2 * mae, position)


OPTIONS = {"lambda_rel": [0.001, 0.01, 0.1, 1.0], "snr_threshold": [2, 5, 10, 20],
           "weighting": ["none", "row_norm", "whitening"]}


def test_the_coordinate_search_finds_the_best_setting_and_reconstructs_each_once():
    calls = []

    def score(setting):
        calls.append(setting)
        return fake_score(setting)

    best, scores = search(OPTIONS, score, log=lambda m: None)
    assert best == Setting(0.1, 10, "row_norm")
    assert len(calls) == len(set(calls)) == len(scores) < 4 * 4 * 3
    # an explicit value is held: only the other keys are searched
    best, scores = search(OPTIONS | {"lambda_rel": [1.0]}, fake_score, log=lambda m: None)
    assert best == Setting(1.0, 10, "row_norm") and {s.setting.lambda_rel for s in scores} == {1.0}


def test_a_setting_that_misplaces_the_scans_is_not_chosen_however_good_its_angles():
    def score(setting):
        s = fake_score(setting)
        return replace(s, position_mean_px=0.9) if setting.lambda_rel == 0.1 else s

    best, _ = search(OPTIONS, score, log=lambda m: None)
    assert best.lambda_rel != 0.1
    with pytest.raises(MpisweepError, match="no candidate setting could be used"):
        search(OPTIONS, lambda s: Score(s, 0, 0, np.inf, np.inf, np.inf, note="no rows"), log=lambda m: None)


def test_candidates_hold_explicit_values_and_drop_what_the_files_cannot_support():
    rec = Sweep.load({"output": "x", "grids": {"diameters": [20], "anisotropies": [0], "angles": [0]}}
                     ).orientation.reconstruction
    with_noise = RowNoise(np.ones((1, 2, 3)), np.ones((2, 3)), "calibration")
    assert candidates(rec, with_noise) == {"lambda_rel": list(rec.auto.lambda_rel),
                                           "snr_threshold": [2, 5, 10, 20],
                                           "weighting": ["none", "row_norm", "whitening"]}
    fixed = candidates(replace(rec, lambda_rel=0.05, weighting="none"), RowNoise(None, None, "none"))
    assert fixed == {"lambda_rel": [0.05], "snr_threshold": [None], "weighting": ["none"]}
    assert candidates(rec, RowNoise(None, None, "none"))["weighting"] == ["none", "row_norm"]


def test_scans_get_noise_only_where_the_phantoms_are_noisier_than_the_calibration():
    freqs = np.arange(4) * 1e5
    cal_snr = np.full((3, 2, 4), 100.0)
    assert phantom_noise_factor(cal_snr, np.full((2, 4), 25.0), freqs, 1e5) == pytest.approx(4.0)
    assert phantom_noise_factor(cal_snr, None, freqs, 1e5) == 1.0
    held = HeldOut(np.zeros((20000, 2, 4), complex), np.zeros(20000, int), np.zeros((20000, 2)))
    assert add_noise(held, np.ones((2, 4)), 0.8, np.random.default_rng(0)) is held
    noisy = add_noise(held, np.full((2, 4), 0.5), 4.0, np.random.default_rng(0)).spectra
    assert np.mean(np.abs(noisy) ** 2) == pytest.approx(0.25 * 15, rel=0.02)  # σ²(κ² − 1)


def test_the_scores_table_round_trips_with_the_chosen_setting_marked(tmp_path):
    scores = [fake_score(Setting(lam, 10, "none")) for lam in (0.01, 0.1, 1.0)]
    scores.append(Score(Setting(0.1, None, "none"), 0, 0, np.inf, np.inf, np.inf, note="no rows"))
    write_scores(tmp_path / "s.csv", scores, Setting(0.1, 10, "none"))
    rows = read_scores(tmp_path / "s.csv")
    assert [r["setting"].lambda_rel for r in rows] == [0.1, 0.01, 1.0, 0.1]  # best first
    assert [r["chosen"] for r in rows] == [True, False, False, False]
    assert rows[-1]["setting"].snr_threshold is None and rows[-1]["note"] == "no rows"
