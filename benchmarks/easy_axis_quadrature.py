"""Quadrature error of random easy axes (grids.easy_axes: random) in the Fokker–Planck rows, by degree.

For each particle and drive the rows of a random sample are computed with rules of rising degree and compared
with a rule of much higher degree (the reference). Printed per case: σ = KV/(k_B T), the rule (axial: Gauss–
Legendre in n·a for a drive and offsets along one axis a; Lebedev otherwise), its degree and directions (one per
±n pair), the largest error relative to the largest row, the largest relative error of the rows within 40 dB of
the largest, and which degree ``quadrature: auto`` picks for that σ. The solver runs at rtol 1e-8 (1D) and 1e-7
(2D), so errors below about 1e-6 are the integrator's, not the quadrature's.

Drives: a spectrometer (20 mT at 25 kHz along x, 100 samples) with offsets −10 … 10 mT along x (axial rule)
and along y (Lebedev; σ ≤ 10.7), and the Bruker 2D drive (12.59 / 13.55 mT) at offsets (0, 0) and (8, −6) mT.

Run: nice -n 5 .venv/bin/python benchmarks/easy_axis_quadrature.py [--bruker] (the spectrometer cases: about
40 minutes on one core; --bruker adds the 2D drive for σ 1.6 and 5.4, about an hour more).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from mpisweep.physics.block import simulate_block
from mpisweep.physics.distribution import EasyAxisDistribution, half_sphere_rule, quadrature_degree
from mpisweep.physics.excitation import Excitation
from mpisweep.physics.params import Particle

PARTICLES = ((20, 1500), (24, 3000), (24, 6000), (28, 9000))  # (nm, J/m³): σ 1.6, 5.4, 10.7, 25.6
SPECTROMETER = Excitation((20e-3,), (100,), samples=100)
BRUKER = Excitation.bruker()


def offsets(axis: int | None) -> np.ndarray:
    if axis is None:
        return np.array([[[0.0, 0.0, 0.0], [8e-3, -6e-3, 0.0]]])
    out = np.zeros((1, 5, 3))
    out[0, :, axis] = np.linspace(-10e-3, 10e-3, 5)
    return out


def random_rows(particle, drive, grid, bins, channels, degree, rule, rtol):
    """The random sample's rows (channel, bin, *grid) by one rule, and the directions it solved."""
    if rule == "axial":
        distribution = EasyAxisDistribution("random", degree)
        res = simulate_block(particle, drive, distribution, grid, bins, channels=channels, rtol=rtol)
        return res.rows[0], distribution.plan(drive, grid).groups[0].axes.shape[0]
    axes, weights = half_sphere_rule(degree)
    res = simulate_block(particle, drive, axes, grid, bins, channels=channels, rtol=rtol)
    return np.tensordot(weights, res.rows, axes=(0, 0)), axes.shape[0]


def case(name, particle, drive, grid, bins, channels, rule, degrees, reference, rtol):
    start = time.perf_counter()
    ref, _ = random_rows(particle, drive, grid, bins, channels, reference, rule, rtol)
    scale = np.abs(ref).max()
    strong = np.abs(ref) >= 1e-2 * scale
    auto = quadrature_degree(particle.sigma)
    for degree in degrees:
        rows, directions = random_rows(particle, drive, grid, bins, channels, degree, rule, rtol)
        err = np.abs(rows - ref)
        print(f"| {name} | {particle.diameter * 1e9:g} / {particle.anisotropy:g} | {particle.sigma:.1f} | {rule} | "
              f"{degree}{' (auto)' if degree == auto else ''} | {directions} | {err.max() / scale:.1e} | "
              f"{(err[strong] / np.abs(ref[strong])).max():.1e} |", flush=True)
    print(f"  ({name}, {particle.describe()}: reference degree {reference}, {time.perf_counter() - start:.0f} s)",
          file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bruker", action="store_true", help="also the Bruker 2D drive (about an hour more)")
    args = parser.parse_args(argv)
    print("| drive, offsets | D (nm) / K (J/m³) | σ | rule | degree | directions | error / largest row | "
          "largest relative error, rows within 40 dB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    bins = np.arange(1, 50)
    for d, k in PARTICLES:
        case("spectrometer, offsets along x", Particle(d * 1e-9, k), SPECTROMETER, offsets(0), bins, (0,), "axial",
             (5, 9, 13, 17, 21, 25, 31, 41), 83, 1e-8)
    for d, k in PARTICLES[:3]:  # σ 25.6 would need a reference beyond degree 100 (thousands of directions)
        case("spectrometer, offsets along y", Particle(d * 1e-9, k), SPECTROMETER, offsets(1), bins, (0, 1),
             "lebedev", (9, 13, 17, 21, 25, 31, 41), 53, 1e-8)
    if args.bruker:
        for d, k in PARTICLES[:2]:
            case("Bruker 2D", Particle(d * 1e-9, k), BRUKER, offsets(None), np.arange(1, 817), (0, 1), "lebedev",
                 (9, 13, 17, 21, 25, 31), 41, 1e-7)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
