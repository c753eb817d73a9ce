"""Distributions of easy axes (grids.easy_axes): random (unoriented) and field-aligned samples.

The rules are checked on polynomials, the random average against the isotropic (Langevin) linear response
that anisotropy cannot change, the axial rule against the Lebedev rule through the Fokker–Planck solver,
the field-aligned axes against the local field, and a random sample end to end.
"""

import math

import numpy as np
import pytest
import yaml
from helpers import REPO, steps_before_fit

from mpisweep.errors import ConfigError
from mpisweep.physics.block import simulate_block
from mpisweep.physics.distribution import (
    EasyAxisDistribution,
    axial_rule,
    field_axis,
    half_sphere_rule,
    quadrature_degree,
)
from mpisweep.physics.equilibrium import AxialBoltzmannQuadrature, langevin_moment
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.params import Particle
from mpisweep.sweep import Sweep
from mpisweep.sweep.config import without_foreign_defaults
from mpisweep.sweep.cost import axes_per_entry

RANDOM, ALONG_FIELD = EasyAxisDistribution("random"), EasyAxisDistribution("field_aligned")
DRIVE_1D = Excitation((12e-3,), (100,), samples=100)


def offsets_along(axis: int, *mT) -> np.ndarray:
    out = np.zeros((1, len(mT), 3))
    out[0, :, axis] = np.asarray(mT) * 1e-3
    return out


@pytest.mark.parametrize("degree", [5, 11, 17])
def test_the_direction_rules_integrate_even_powers_exactly(degree):
    """⟨(n·a)^p⟩ over the sphere is 1/(p + 1) for even p, in any direction a for Lebedev and along the axis
    for the axial rule, up to each rule's degree."""
    a = np.array([0.3, -0.5, 0.81])
    a /= np.linalg.norm(a)
    axes, w = half_sphere_rule(degree)
    axial, wa = axial_rule(0, degree)
    assert w.sum() == pytest.approx(1.0) and np.allclose(np.linalg.norm(axes, axis=1), 1.0)
    for p in range(0, degree + 1, 2):
        assert w @ (axes @ a) ** p == pytest.approx(1.0 / (p + 1), abs=1e-13), p
        assert wa @ axial[:, 0] ** p == pytest.approx(1.0 / (p + 1), abs=1e-13), p
    assert not any(np.allclose(u, -v) for i, u in enumerate(axes) for v in axes[i + 1:])


def test_random_easy_axes_have_the_langevin_susceptibility_whatever_the_anisotropy():
    """In linear response an isotropic average of the uniaxial susceptibility tensor is a third of its trace,
    β/3 for any σ: a random sample's weak-field moment is Langevin's, an aligned sample's is not."""
    particle = Particle(24e-9, 6000.0)  # σ ≈ 11
    field = 1e-3 / particle.beta * np.array([0.6, 0.0, 0.8])  # ξ = 1e-3
    axes, w = half_sphere_rule(quadrature_degree(particle.sigma))
    moments = np.array([AxialBoltzmannQuadrature(particle, n, nodes=64).moments(field)[0] for n in axes])
    langevin = langevin_moment(particle, field)
    assert np.abs(w @ moments - langevin).max() < 1e-6 * np.linalg.norm(langevin)
    assert np.abs(moments[0] - langevin).max() > 0.1 * np.linalg.norm(langevin)


def test_a_drive_and_offsets_along_one_axis_use_the_axial_rule():
    collinear = RANDOM.plan(DRIVE_1D, offsets_along(0, -5, 0, 5), sigma=2.0)
    assert collinear.kept_axes == (0,) and len(collinear.groups) == 1
    assert np.allclose(collinear.groups[0].axes[:, 2], 0.0)  # in the x-y plane
    across = RANDOM.plan(DRIVE_1D, offsets_along(1, -5, 0, 5), sigma=2.0)
    assert across.kept_axes == (0, 1, 2) and across.groups[0].axes.shape[0] == len(half_sphere_rule(17)[0])
    assert quadrature_degree(0.0) == 9 and quadrature_degree(10.0) == 47 and quadrature_degree(10.0, True) == 25
    finer = RANDOM.finer(DRIVE_1D, offsets_along(1, 5), 0.0)  # the virtual scanner's: two degrees finer
    assert finer.quadrature == 13 and ALONG_FIELD.finer(DRIVE_1D, offsets_along(1, 5), 0.0) == ALONG_FIELD


def test_the_axial_and_the_lebedev_rule_give_the_same_rows():
    """Two independent quadratures of one random sample (a 1D drive with offsets along it) through the solver."""
    particle = Particle(22e-9, 3000.0)
    offsets, bins = offsets_along(0, -6, 0, 6), np.arange(1, 30, 2)
    axial = simulate_block(particle, DRIVE_1D, EasyAxisDistribution("random", 17), offsets, bins,
                           channels=(0, 1, 2), rtol=1e-8).rows[0]
    axes, w = half_sphere_rule(17)
    lebedev = np.tensordot(w, simulate_block(particle, DRIVE_1D, axes, offsets, bins, channels=(0, 1, 2),
                                             rtol=1e-8).rows, axes=(0, 0))
    scale = np.abs(axial).max()
    assert np.abs(axial - lebedev).max() < 2e-4 * scale
    assert (axial[1:] == 0).all() and np.abs(lebedev[1:]).max() < 1e-6 * scale  # no moment across the drive


def test_without_anisotropy_every_distribution_gives_the_aligned_rows():
    particle = Particle(20e-9, 0.0)
    offsets, bins = offsets_along(1, -4, 3), np.arange(1, 20, 2)
    aligned = simulate_block(particle, DRIVE_1D, [0.0], offsets, bins, channels=(0, 1), rtol=1e-9).rows[0]
    for distribution in (EasyAxisDistribution("random", 5), ALONG_FIELD):
        rows = simulate_block(particle, DRIVE_1D, distribution, offsets, bins, channels=(0, 1), rtol=1e-9).rows[0]
        assert np.abs(rows - aligned).max() < 1e-6 * np.abs(aligned).max(), distribution


def test_field_aligned_easy_axes_follow_the_local_field():
    drive = Excitation((12e-3, 13e-3), (102, 96), samples=1632)
    tilted = field_axis(drive.with_offset((0.2, -0.1, 0.0)))  # a strong offset: its direction, the drive tilts it
    assert np.allclose(np.abs(tilted), [2 / math.sqrt(5), 1 / math.sqrt(5), 0], atol=1e-3)
    assert np.allclose(np.abs(field_axis(drive)), [0, 1, 0])  # at the field-free point: the stronger drive channel
    assert np.allclose(field_axis(DRIVE_1D.with_offset((0.0, 3e-3, 0.0))), [1, 0, 0])  # the drive dominates
    plan = ALONG_FIELD.plan(drive, offsets_along(0, -5, 5) + offsets_along(1, 5, 5))
    assert len(plan.groups) == 2 and sorted(g.offsets.tolist() for g in plan.groups) == [[0], [1]]
    # a drive and offsets along x: every particle along x, the aligned rows at 0°
    particle, offsets, bins = Particle(22e-9, 3000.0), offsets_along(0, -6, 0, 6), np.arange(1, 20, 2)
    rows = simulate_block(particle, DRIVE_1D, ALONG_FIELD, offsets, bins, channels=(0,)).rows
    assert np.allclose(rows, simulate_block(particle, DRIVE_1D, [0.0], offsets, bins, channels=(0,)).rows,
                       rtol=1e-12, atol=0)


GRIDS = {"diameters": [20], "anisotropies": [1500]}


def test_the_config_takes_a_distribution_and_names_what_contradicts_it():
    sweep = Sweep.load({"grids": {**GRIDS, "easy_axes": "random", "quadrature": 13}})
    assert sweep.angles == (0.0,) and sweep.distribution == EasyAxisDistribution("random", 13)
    assert Sweep.from_dict(sweep.to_dict()) == sweep
    assert "random easy axes" in sweep.easy_axis_text(0.0)
    aligned = Sweep.load({"grids": {**GRIDS, "angles": [0, 90]}})
    assert aligned.distribution is None and "easy_axes" not in aligned.grids.to_json("neel")  # hashes kept
    # the cluster plan counts a random entry's directions (the default 2D drive: a Lebedev rule of degree 13)
    assert axes_per_entry(sweep, 0.0) == len(half_sphere_rule(13)[0]) and axes_per_entry(aligned, 0.0) == 1
    for grids, key in (({"easy_axes": "random", "angles": [0]}, "grids.angles"),
                       ({"easy_axes": "field_aligned", "quadrature": 11}, "grids.quadrature"),
                       ({"easy_axes": "random", "quadrature": 12}, "grids.quadrature")):
        with pytest.raises(ConfigError, match=f"'{key}'"):
            Sweep.load({"grids": {**GRIDS, **grids}})
    with pytest.raises(ConfigError, match="'grids.easy_axes'"):
        Sweep.load({"grids": {**GRIDS, "easy_axes": "random"}, "orientation": {"enabled": True}})
    with pytest.raises(ConfigError, match="'grids.easy_axes'"):
        Sweep.load({"model": "brown", "grids": {"diameters": [20], "hydrodynamic_diameters": [30],
                                                "easy_axes": "random"}})


def test_a_distribution_over_the_default_config_replaces_its_angles_and_orientation_imaging():
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    own = {"grids": {"easy_axes": "field_aligned"}}
    merged = {**default, "grids": {**default["grids"], **own["grids"]}}
    out = without_foreign_defaults(merged, [own])
    assert "angles" not in out["grids"] and out["orientation"]["enabled"] is False
    assert Sweep.load(out).distribution == ALONG_FIELD


SPECTROMETER = {
    "scanner": {"dividers": [100], "drive": [20], "phases": [0], "samples": None, "receive": ["x"]},
    "offsets": {"x": {"min": -8, "max": 8, "count": 5}, "y": {"min": 0, "max": 0, "count": 1}},
    "grids": {"diameters": [18, 22], "anisotropies": [500, 3000], "easy_axes": "random"},
    "frequencies": {"mx": 15},
    "fit": {"ranks": ["100%"], "snr_threshold": None, "m3": {"max_iter": 3000}},
    "orientation": {"enabled": False, "field_of_view": None},
    "measurement": {"virtual": {
        "components": [{"diameter": 22, "anisotropy": 3000, "weight": 1.0}],
        "snr_db": 50, "transfer_function": {"gain": [1.0], "phase": [0.0]}}},
}


@pytest.mark.slow
def test_an_unoriented_sample_is_fitted_by_the_random_dictionary(tmp_path):
    from mpisweep.steps.fit.fit import run_fit

    sweep = Sweep.load({**SPECTROMETER, "output": str(tmp_path / "results")})
    _, report, _ = steps_before_fit(sweep)
    assert len(list(sweep.layout.virtual_index.parent.glob("*.mdf"))) == 1  # one sample, one file
    summary = run_fit(sweep, report, log=lambda m: None)
    assert (summary["M1"]["best_diameter"], summary["M1"]["best_anisotropy"]) == (22.0, 3000.0)
    for entry in summary["recovered"]["m3_weights_vs_truth"]:
        assert abs(entry["m3_weight"] - entry["true_weight"]) <= 0.05, entry


def test_check_config_says_how_many_directions_a_random_sample_solves(tmp_path, capsys):
    from mpisweep.cli import main

    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump({"grids": {"diameters": [20, 24], "anisotropies": [1500, 3000],
                                              "easy_axes": "random"}, "orientation": {"enabled": False}}))
    assert main(["check-config", str(path), "-o", str(tmp_path / "resolved.json")]) == 0
    said = capsys.readouterr()
    text = said.out + said.err
    low, high = (len(half_sphere_rule(quadrature_degree(Particle(d * 1e-9, k).sigma))[0]) for d, k in
                 ((20, 1500), (24, 3000)))
    assert f"random easy axes: {low}–{high} directions solved per offset" in text
