"""Interpolated dictionary blocks against directly simulated ones (issue 31, item 3).

Question: the rows of one block (D, K) vary smoothly with K and D; could the paper's grid (8 diameters
14-28 nm step 2 × 90 anisotropies 100-9000 J/m³ step 100, config/paper.yaml) be filled from a fraction of
its blocks by interpolating between simulated ones?

Method. Series of blocks at the paper's spacing (Bruker 2D drive and 5 × 5 offsets of config/config.yaml,
the 97 evaluation bins, receive x and y; easy axes 45° and 135° only, which the drive's mirror symmetry
pairs, so 25 solves a block and one independent angle):
- K at D = 22 nm: 100-3300 J/m³ (σ 0.14-4.5), 5400-6600 (σ 7.4-9.1) and 7800-9000 (σ 10.7-12.4);
- K at D = 26 nm: 2400-3600 J/m³ (σ 5.5-8.3; a step of 100 J/m³ is 1.65 × the σ step at 22 nm);
- K at D = 28 nm: 8400-9000 J/m³ (σ 23.9-25.6, the grid's corner), on the 3 × 3 subset of the offsets
  (9 solves a block instead of 25; a block there costs ~100 s of one core on 5 × 5);
- D at K = 1100 J/m³: 14-28 nm in steps of 1 nm; D at K = 3000 J/m³: 14-28 nm at the paper's 2 nm.
Keeping every 2nd (every 4th) block of a series as nodes, each block strictly between the first and last
node is rebuilt from the nodes (series with fewer than 4 nodes are skipped): linear, cubic spline
(not-a-knot), PCHIP and Akima interpolation, in K or log K (σ ∝ K at fixed D, so "in σ" is "in K") and
in D or D³ (∝ σ at fixed K), of the complex rows as real/imaginary parts or as amplitude/unwrapped phase.

Measured per rebuilt block, against the direct block S (rows: angle × channel × bin, over the offsets):
- rel: ‖Φ − S‖/‖S‖ over all rows (what a fit with a shared transfer function, M3, sees);
- worst row: max over the rows within 40 dB of the block's largest row of max|Φ − S|/max|S_row|;
- ε: the M1 error measure of S against the interpolated rows, ε = ‖S − âΦ‖/(√N‖S‖∞) per row with the
  closed-form â (paper eqs. 15, 20), RMS over rows (eqs. 21, 22);
- the same two measures of S against its neighbours on the paper grid (K ± 100 J/m³, D ± 2 nm; the
  closer one): what separates adjacent grid entries in a fit. Interpolation "pays" where the larger of
  the two ratios interpolated/adjacent stays ≤ 0.1 (OK_RATIO): the rebuilt entry then sits ten times
  closer to the true one than the next grid entry does.
Cost is counted in blocks (99: 92 on 5 × 5 offsets, 7 on 3 × 3; nothing is timed). Blocks are cached
in --cache, so a rerun only analyses (seconds).

Findings (measured by this script; --notes gets the tables):
- K: a cubic spline of the real and imaginary parts in K rebuilds every left-out block. Simulating every
  2nd K: 37 of 37 blocks within 0.1, the worst ratio 0.039 (σ < 5), 0.003-0.004 at σ 6-12 and 0.03 at
  the corner (D 28 nm, σ 24-25); the raw error is 2e-5 to 9e-4 of the block, below the rows' own
  accuracy at the default rtol (about 55 dB). Simulating every 4th K: 51 of 51 within 0.1 (worst 0.067)
  at σ ≤ 12.3 with D 22 nm and at σ ≤ 8 with D 26 nm. Linear interpolation is not enough (0.14-0.28 at
  every 4th, 0.16 at the corner at every 2nd). log K, PCHIP, Akima and amplitude/phase are no better
  (amplitude/phase is worse: the phase of weak rows unwraps badly).
- Where it fails: nowhere in K within the measured windows, and the rows show no change of character
  along K (at K 9000 J/m³ the drive amplitude alone still gives h = Ms·B/(2K) ≈ 0.33). The
  limit is the σ step between nodes: from every 2nd to every 4th the ratio grows ~20× (a cubic's h⁴), so
  every 4th K at D 28 nm (Δσ 1.1 between nodes, ratio 0.4-0.6 extrapolated) would fail; it and σ 12.4-23.9
  (D 24-28 nm at mid K) were not measured (cost). Every 2nd K there is bracketed by the measured ends.
- D: not interpolable at the paper's step. Rebuilding the 2 nm grid from 4 nm nodes fails for every
  block (0 of 9 at K 1100, 0 of 3 at K 3000; ratio 0.2-1.6, whatever the method or variable); even
  2 nm nodes fail at D 15 nm. Adjacent diameters differ 3-5 × more than adjacent K (ε 0.03-0.2 against
  0.01-0.04): D is the coarse axis, and each of its columns must be simulated.
- Verdict: worth keeping for K only. Simulating every 2nd K and rebuilding the rest with a cubic spline
  saves 352 of the 720 paper blocks (49 %); every 4th K at D ≤ 22 nm (σ ≤ 12.4) and every 2nd above
  saves 462 (64 %). Caveats: one independent easy axis, 5 × 5 offsets (3 × 3 at the corner); each row
  is its own solve, so the smoothness in K carries to 12 angles and 11 × 11 offsets, but that grid was
  not run.

Run: cd /work/main && nice -n 15 .venv/bin/python benchmarks/interpolation.py
     [--cache /tmp/mpisweep-interpolation] [--notes /work/team/notes/interpolation.md]
(about 13 minutes of one core for the simulations on an empty cache, seconds for the analysis)
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.interpolate import Akima1DInterpolator, CubicSpline, PchipInterpolator, make_interp_spline  # noqa: E402

from mpisweep.fitting.metrics import epsilon_freq, epsilon_global, row_error, transfer_function  # noqa: E402
from mpisweep.physics.block import simulate_block  # noqa: E402
from mpisweep.sweep import Sweep  # noqa: E402

ANGLES = (45.0, 135.0)  # mirror partners on the Bruker drive: 25 solves give both
OK_RATIO = 0.1  # interpolated error / adjacent-entry difference that counts as "accurate enough"
ROW_RANGE = 1e-2  # worst-row measure over rows within 40 dB of the block's largest row
KEEP = (2, 4)  # keep every 2nd / every 4th block of a series as interpolation nodes
PAPER_D = tuple(range(14, 29, 2))  # nm
PAPER_K = tuple(range(100, 9001, 100))  # J/m³


@dataclass(frozen=True)
class Series:
    """Blocks along one parameter ("K" or "D") with the other held fixed; `paper` = the paper grid's step
    in units of this series' step (neighbours at ± paper are the adjacent grid entries)."""

    name: str
    axis: str
    fixed: float
    values: tuple[float, ...]
    paper: int = 1
    stride: int = 1  # offsets: every stride-th of the 5 × 5 per axis (2: the 3 × 3 subset, cheaper at high σ)

    def point(self, v: float) -> tuple[float, float]:
        """(D nm, K J/m³) of the series value v."""
        return (self.fixed, v) if self.axis == "K" else (v, self.fixed)


SERIES = (
    Series("K, D 22 nm, low σ", "K", 22, tuple(range(100, 3301, 100))),
    Series("K, D 22 nm, mid σ", "K", 22, tuple(range(5400, 6601, 100))),
    Series("K, D 22 nm, high σ", "K", 22, tuple(range(7800, 9001, 100))),
    Series("K, D 26 nm", "K", 26, tuple(range(2400, 3601, 100))),
    Series("K, D 28 nm, 3 × 3 offsets", "K", 28, tuple(range(8400, 9001, 100)), stride=2),
    Series("D, K 1100", "D", 1100, tuple(range(14, 29)), paper=2),
    Series("D, K 3000", "D", 3000, tuple(range(14, 29, 2))),
)

# x transforms per series axis: name → function of the series value
VARIABLES = {"K": {"K": lambda v: v, "log K": np.log}, "D": {"D": lambda v: v, "D³ (∝σ)": lambda v: v**3}}
METHODS = {
    "linear": lambda x, y: make_interp_spline(x, y, k=1, axis=0),
    "cubic": lambda x, y: CubicSpline(x, y, axis=0),
    "pchip": lambda x, y: PchipInterpolator(x, y, axis=0),
    "akima": lambda x, y: Akima1DInterpolator(x, y, axis=0),
}
MIN_NODES = {"linear": 2, "cubic": 4, "pchip": 3, "akima": 3}
REPRESENTATIONS = ("re/im", "amp/phase")


# ----------------------------------------------------------------------------------------- simulation
class Blocks:
    """Direct blocks, simulated once and cached as .npy; counts the distinct blocks used and the solves run."""

    def __init__(self, sweep: Sweep, cache: Path):
        self.sweep, self.cache = sweep, cache
        self.used: set[tuple[float, float, int]] = set()  # (D, K, offset stride)
        self.solves = 0

    def rows(self, D: float, K: float, stride: int = 1) -> np.ndarray:
        """Rows (angle, channel, bin, offset) of the (D nm, K J/m³) block on every stride-th offset per axis
        (each offset is solved on its own, so a subset of a full block's rows is the subset's block)."""
        self.used.add((D, K, stride))
        full = self.cache / f"D{D:g}_K{K:g}.npy"
        path = full if stride == 1 else self.cache / f"D{D:g}_K{K:g}_stride{stride}.npy"
        grid = self.sweep.offsets.shape[:-1]
        if full.is_file():
            rows = np.load(full)
            lead = rows.shape[:3]
            return rows.reshape(*lead, *grid)[..., ::stride, ::stride].reshape(*lead, -1)
        if path.is_file():
            return np.load(path)
        sw = self.sweep
        res = simulate_block(sw.particle(D, K), sw.excitation, ANGLES, sw.offsets[::stride, ::stride],
                             sw.bin_indices)
        rows = res.rows.reshape(res.rows.shape[:3] + (-1,))
        self.cache.mkdir(parents=True, exist_ok=True)
        np.save(path, rows)
        self.solves += res.solves
        print(f"  simulated D {D:g} nm, K {K:g} J/m³ (σ {sw.particle(D, K).sigma:.2f}): {res.solves} solves",
              flush=True)
        return rows

    def series(self, s: Series) -> np.ndarray:
        """(value, angle, channel, bin, offset) rows of a series."""
        return np.stack([self.rows(*s.point(v), s.stride) for v in s.values])


# -------------------------------------------------------------------------------------- interpolation
def interpolate(x: np.ndarray, nodes: np.ndarray, xt: np.ndarray, method: str, rep: str) -> np.ndarray:
    """Rows at xt from the node rows (x, ...), complex, as re/im or amplitude/unwrapped phase."""
    make = METHODS[method]
    if rep == "re/im":
        return make(x, nodes.real)(xt) + 1j * make(x, nodes.imag)(xt)
    amp = np.abs(nodes)
    phase = np.unwrap(np.angle(nodes), axis=0)
    return make(x, amp)(xt) * np.exp(1j * make(x, phase)(xt))


# --------------------------------------------------------------------------------------------- measures
def rel_error(S: np.ndarray, Phi: np.ndarray) -> float:
    """‖Φ − S‖/‖S‖ over all rows of a block."""
    return float(np.linalg.norm(Phi - S) / np.linalg.norm(S))


def worst_row(S: np.ndarray, Phi: np.ndarray) -> float:
    """Largest max|Φ − S|/max|S_row| over the rows within ROW_RANGE of the block's largest row."""
    peak = np.abs(S).max(axis=-1)
    strong = peak >= ROW_RANGE * peak.max()
    return float((np.abs(Phi - S).max(axis=-1)[strong] / peak[strong]).max())


def epsilon(S: np.ndarray, Phi: np.ndarray) -> float:
    """M1's ε of measured rows S against model rows Φ: â per row (eq. 15), ε per row (eq. 20), RMS over
    angles and channels (eq. 21) and bins (eq. 22)."""
    a = transfer_function(S, Phi)
    return float(epsilon_global(epsilon_freq(row_error(S, a[..., None] * Phi))))


def adjacent(rows: np.ndarray, i: int, step: int) -> tuple[float, float]:
    """(rel, ε) of block i against its closer neighbour on the paper grid (i ± step)."""
    nbrs = [j for j in (i - step, i + step) if 0 <= j < len(rows)]
    return (min(rel_error(rows[i], rows[j]) for j in nbrs), min(epsilon(rows[i], rows[j]) for j in nbrs))


# --------------------------------------------------------------------------------------------- analysis
def rebuild(s: Series, rows: np.ndarray, sigmas: np.ndarray, keep: int) -> list[dict]:
    """Every block between the first and last node of keep-every-`keep`, rebuilt by every method."""
    values = np.asarray(s.values, dtype=float)
    idx = np.arange(len(values))
    nodes = idx[::keep]
    if len(nodes) < max(MIN_NODES.values()):
        return []  # too few nodes for every method: not measured
    targets = idx[(idx > nodes[0]) & (idx < nodes[-1]) & (idx % keep != 0)]
    records = []
    for i in targets:
        adj_rel, adj_eps = adjacent(rows, i, s.paper)
        steps = [abs(sigmas[j] - sigmas[i]) for j in (i - s.paper, i + s.paper) if 0 <= j < len(values)]
        rec = {"series": s.name, "keep": keep, "spacing": keep // s.paper, "value": values[i], "sigma": sigmas[i],
               "dsigma": np.mean(steps), "adj_rel": adj_rel, "adj_eps": adj_eps, "results": {}}
        records.append(rec)
    for (var, fx), method, rep in itertools.product(VARIABLES[s.axis].items(), METHODS, REPRESENTATIONS):
        if len(nodes) < MIN_NODES[method]:
            continue
        Phi = interpolate(fx(values[nodes]), rows[nodes], fx(values[targets]), method, rep)
        for rec, i, phi in zip(records, targets, Phi):
            S = rows[i]
            rec["results"][(var, method, rep)] = (rel_error(S, phi), worst_row(S, phi), epsilon(S, phi))
    return records


def ratio(rec: dict, key) -> float:
    """The larger of rel/adjacent rel and ε/adjacent ε for one method (inf if it could not run)."""
    if key not in rec["results"]:
        return np.inf
    rel, _, eps = rec["results"][key]
    return max(rel / rec["adj_rel"], eps / rec["adj_eps"])


# ----------------------------------------------------------------------------------------------- tables
def method_table(records: list[dict]) -> list[str]:
    """Worst ratio over each series' rebuilt blocks, per (variable, method, representation)."""
    names = list(dict.fromkeys(r["series"] for r in records))
    out = ["| variable | method | rows as | " + " | ".join(f"{n}: ×2 / ×4" for n in names) + " |",
           "|---|---|---|" + "---|" * len(names)]
    keys = list(dict.fromkeys(k for r in records for k in r["results"]))
    for key in keys:
        cells = []
        for n in names:
            parts = []
            for keep in KEEP:
                rs = [r for r in records if r["series"] == n and r["keep"] == keep and key in r["results"]]
                parts.append(f"{max(ratio(r, key) for r in rs):.2g}" if rs else "—")
            cells.append(" / ".join(parts))
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + " |")
    return out


def block_table(records: list[dict], best: dict) -> list[str]:
    """One line per rebuilt block: its σ, the errors of linear and the best method, the adjacent ones."""
    out = ["| series | keep | value | σ | rel lin | rel best | worst row best | ε best | ε adj | rel adj "
           "| ratio best | ok |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        axis = "K" if r["series"].startswith("K") else "D"
        lin = r["results"].get((axis, "linear", "re/im"))
        b = best[axis]
        rel, worst, eps = r["results"].get(b, (np.nan,) * 3)
        q = ratio(r, b)
        out.append(f"| {r['series']} | ×{r['keep']} | {r['value']:g} | {r['sigma']:.2f} | {lin[0]:.1e} | "
                   f"{rel:.1e} | {worst:.1e} | {eps:.1e} | {r['adj_eps']:.1e} | {r['adj_rel']:.1e} | {q:.2g} | "
                   f"{'yes' if q <= OK_RATIO else 'no'} |")
    return out


def best_methods(records: list[dict]) -> dict:
    """Per series axis, the method that rebuilds the most blocks within OK_RATIO (both keeps; ties: the
    smaller median ratio)."""
    best = {}
    for axis in ("K", "D"):
        rs = [r for r in records if r["series"].startswith(axis)]
        ratios = {k: [ratio(r, k) for r in rs] for k in rs[0]["results"]}
        best[axis] = min(ratios, key=lambda k: (-sum(q <= OK_RATIO for q in ratios[k]), np.median(ratios[k])))
    return best


def series_table(records: list[dict], best: dict) -> list[str]:
    """Per series and keep: the σ of the rebuilt blocks, how many the best method rebuilds within
    OK_RATIO, and the worst ratio of the best method and of linear interpolation."""
    out = ["| series | keep | σ rebuilt | Δσ per paper step | ok / rebuilt (best) | worst ratio best | worst ratio "
           "linear |", "|---|---|---|---|---|---|---|"]
    for s in SERIES:
        for keep in KEEP:
            rs = [r for r in records if r["series"] == s.name and r["keep"] == keep]
            if not rs:
                continue
            sig = [r["sigma"] for r in rs]
            step = [r["dsigma"] for r in rs]
            q = [ratio(r, best[s.axis]) for r in rs]
            lin = max(ratio(r, (s.axis, "linear", "re/im")) for r in rs)
            span = f"{min(step):.3g}" if np.ptp(step) < 1e-3 else f"{min(step):.3g}-{max(step):.3g}"
            out.append(f"| {s.name} | ×{keep} | {min(sig):.2f}-{max(sig):.2f} | {span} | "
                       f"{sum(x <= OK_RATIO for x in q)} / {len(q)} | {max(q):.2g} | {lin:.2g} |")
    return out


def interpolated(keep: int, n: int = len(PAPER_K)) -> int:
    """Blocks of one diameter's K column rebuilt when every keep-th (and the last) is simulated."""
    return n - len(set(range(0, n, keep)) | {n - 1})


def savings(sweep: Sweep) -> list[str]:
    """Blocks of the paper grid (8 D × 90 K) saved by two K-interpolation plans."""
    sig = np.array([[sweep.particle(D, K).sigma for K in PAPER_K] for D in PAPER_D])
    plans = {"every 2nd K simulated at every D": {D: 2 for D in PAPER_D},
             "every 4th K at D ≤ 22 nm, every 2nd at D ≥ 24 nm": {D: 4 if D <= 22 else 2 for D in PAPER_D}}
    out = [f"Paper grid: {sig.size} blocks, σ {sig.min():.2f}-{sig.max():.1f} (D 22 nm: σ ≤ "
           f"{sig[PAPER_D.index(22)].max():.1f}); the last K of each column is always simulated."]
    for name, plan in plans.items():
        saved = sum(interpolated(k) for k in plan.values())
        out.append(f"- {name}: {sig.size - saved} blocks simulated, {saved} interpolated "
                   f"({100 * saved / sig.size:.0f} % of the grid).")
    return out


def verdict(records: list[dict], best: dict) -> list[str]:
    """Per axis and node spacing (in paper-grid steps), the count of blocks the best method and linear
    rebuild within OK_RATIO, then the Findings of the module docstring (written from this run)."""
    out = []
    for axis in ("K", "D"):
        for spacing in sorted({r["spacing"] for r in records if r["series"].startswith(axis)}):
            rs = [r for r in records if r["series"].startswith(axis) and r["spacing"] == spacing]
            q = [ratio(r, best[axis]) for r in rs]
            lin = [ratio(r, (axis, "linear", "re/im")) for r in rs]
            sig = [r["sigma"] for r in rs]
            nodes = ("nodes on every paper entry (points between them rebuilt, off the grid)" if spacing == 1
                     else f"nodes on every {spacing}{'nd' if spacing == 2 else 'th'} paper entry")
            out.append(f"- {axis}, {nodes}: {' '.join(best[axis])} rebuilds {sum(x <= OK_RATIO for x in q)} of "
                       f"{len(q)} blocks within {OK_RATIO} (worst {max(q):.2g}), linear "
                       f"{sum(x <= OK_RATIO for x in lin)} (worst {max(lin):.2g}); σ {min(sig):.2f}-{max(sig):.2f}.")
    findings = __doc__[__doc__.index("Findings"):__doc__.index("Run:")].strip()
    return out + ["", findings]


# ------------------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--cache", default="/tmp/mpisweep-interpolation")
    parser.add_argument("--notes", default="/work/team/notes/interpolation.md")
    args = parser.parse_args()
    sweep = Sweep.load(args.config)
    blocks, records = Blocks(sweep, Path(args.cache)), []
    for s in SERIES:
        rows = blocks.series(s)
        sigmas = np.array([sweep.particle(*s.point(v)).sigma for v in s.values])
        for keep in KEEP:
            records += rebuild(s, rows, sigmas, keep)
    best = best_methods(records)
    lines = ["# Issue 31 item 3: interpolated dictionary blocks against direct ones", "",
             f"Blocks: {len(blocks.used)}, {sum(u[2] == 1 for u in blocks.used)} on the 5 × 5 offsets (25 solves "
             f"each), the rest on their 3 × 3 subset (9 solves); easy axes {ANGLES}°, 97 bins, 2 channels "
             f"({blocks.solves} solves this run, the rest from the cache).", "",
             "## Methods: worst ratio max(rel/rel adj, ε/ε adj) over the rebuilt blocks, keep ×2 / ×4", "",
             *method_table(records), "",
             f"## Per series (best: K {best['K']}, D {best['D']}; ok = ratio ≤ {OK_RATIO})", "",
             *series_table(records, best), "",
             "## Verdict", "", *verdict(records, best), "",
             "## Savings on the paper grid (K interpolation only)", "", *savings(sweep), "",
             "## Per rebuilt block", "", *block_table(records, best)]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.notes).parent.mkdir(parents=True, exist_ok=True)
    Path(args.notes).write_text(text)


if __name__ == "__main__":
    main()
