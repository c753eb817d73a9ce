"""Coarse-to-fine dictionaries: which (D, K) blocks to simulate next, from the fit of the blocks so far.

What a user needs from a large grid is the fit's answer (M1's best entry, the M2/M3 weights and the
error maps around them), and most of a grid's core-hours go to high-σ corners that only show that
the answer is not there. A refined sweep (config ``refine.enabled``) starts from a coarse subgrid
that always contains the grid's edges (every ``coarse_step``-th diameter and parameter value, one
step per axis), fits it, and adds the neighbours on the round's lattice (±h index in D and/or K,
the spacing h halving every round from the coarse step down to 1) of

* M1's best entry,
* every entry with an M2 or M3 weight above ``weight_threshold`` (their lowest-ε_global rank),
* every local minimum of M1's ε_global (among the entries simulated so far, within the coarse step)
  within ``margin`` (relative) of the best,

then refits, until, at spacing 1, a round adds nothing or the answer stops changing (same M1 entry, and
M3 weights within ``tolerance`` or M3's ε_global lower by less than ``eps_tolerance`` of itself: the new
blocks no longer explain the data better), or ``max_rounds``/``max_blocks`` is reached. Blocks are
ordinary simulate jobs (same shards and markers), so a later full-grid run reuses every one of them.

With ``refine.screening`` (multi-fidelity, :mod:`mpisweep.sweep.fidelity`) round 0 screens the whole
grid at a screening fidelity instead; the full-fidelity rounds start from its candidates
(:func:`screening_candidates`) and add only grid neighbours that the screening cannot rule out
(:func:`decide_screened`).

This module is the decision alone, on grid indices; :mod:`mpisweep.steps.refine` fits and records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import StoreError
from .sections.refine import RefineSettings
from .sections.refine import coarse_steps as steps

__all__ = ["Answer", "Decision", "RefineSettings", "coarse_grid", "decide", "decide_screened", "next_entries",
           "read_round", "screening_candidates", "spacing", "steps"]


def coarse_indices(n: int, step: int) -> list[int]:
    """Every step-th index of an axis of n values, the last one always included (the grid's edges)."""
    return sorted(set(range(0, n, max(1, int(step)))) | {n - 1})


def coarse_grid(shape: tuple[int, int], step) -> set[tuple[int, int]]:
    """The round-0 entries (i, j) of a (diameters, parameter values) grid."""
    sd, sk = steps(step)
    return {(i, j) for i in coarse_indices(shape[0], sd) for j in coarse_indices(shape[1], sk)}


def spacing(step, level: int) -> tuple[int, int]:
    """The lattice spacing at refinement level `level` (0: the first refinement): the coarse step halved
    level + 1 times, at least 1."""
    return tuple(max(1, -(-s // 2 ** (level + 1))) for s in steps(step))


def neighbours(entry: tuple[int, int], shape: tuple[int, int], h=(1, 1)) -> list[tuple[int, int]]:
    """The neighbours of an entry on a lattice of spacing h = (hD, hK): ±h index in D and/or K, inside the grid."""
    i, j = entry
    hd, hk = steps(h)
    return [(i + a * hd, j + b * hk) for a in (-1, 0, 1) for b in (-1, 0, 1)
            if (a or b) and 0 <= i + a * hd < shape[0] and 0 <= j + b * hk < shape[1]]


def local_minima(eps: np.ndarray, done: set[tuple[int, int]], radius) -> list[tuple[int, int]]:
    """Entries of `done` whose ε is not above any other entry of `done` within `radius` = (rD, rK) indices
    (one int: both); NaN entries are none."""
    rd, rk = steps(radius)
    out = []
    for i, j in sorted(done):
        e = eps[i, j]
        if not np.isfinite(e):
            continue
        near = [eps[a, b] for a, b in done if (a, b) != (i, j) and abs(a - i) <= rd and abs(b - j) <= rk]
        if all(not np.isfinite(x) or e <= x for x in near):
            out.append((i, j))
    return out


@dataclass(frozen=True)
class Answer:
    """What a round's fit says: M1's best entry, M3's weights (lowest-ε_global rank) on grid indices and that
    rank's ε_global."""

    m1: tuple[int, int]
    m3_weights: np.ndarray  # (nD, nK), NaN for entries not simulated
    m3_eps: float = float("nan")

    def same_as(self, other: "Answer | None", tolerance: float) -> bool:
        if other is None or self.m1 != other.m1:
            return False
        a, b = np.nan_to_num(self.m3_weights), np.nan_to_num(other.m3_weights)
        return float(np.abs(a - b).max()) <= tolerance

    def stalled_since(self, other: "Answer | None", eps_tolerance: float) -> bool:
        """M1's entry is `other`'s and M3's ε_global fell by less than `eps_tolerance` of `other`'s: the round's
        new blocks did not explain the data better (on a flat valley of the fit, e.g. K steps the noise cannot
        resolve, the weights may still move between neighbours)."""
        if eps_tolerance <= 0 or other is None or self.m1 != other.m1 or not np.isfinite(other.m3_eps * self.m3_eps):
            return False
        return other.m3_eps - self.m3_eps < eps_tolerance * other.m3_eps


def seeds(eps_m1: np.ndarray, weights: list[np.ndarray], done: set[tuple[int, int]],
          settings: RefineSettings) -> list[tuple[int, int]]:
    """The entries whose neighbourhoods the next round adds, most important first (M1's best, then weights
    from the largest, then the other near-best local minima of ε_global)."""
    best = np.unravel_index(int(np.nanargmin(eps_m1)), eps_m1.shape)
    order = [tuple(int(v) for v in best)] + heavy_entries(weights, settings.weight_threshold)
    limit = (1.0 + settings.margin) * float(np.nanmin(eps_m1))
    order += [e for e in local_minima(eps_m1, done, settings.coarse_step) if eps_m1[e] <= limit]
    return list(dict.fromkeys(order))


def next_entries(eps_m1: np.ndarray, weights: list[np.ndarray], done: set[tuple[int, int]],
                 settings: RefineSettings, h=(1, 1)) -> list[tuple[int, int]]:
    """The entries the next round simulates: the unsimulated neighbours (lattice spacing h) of the seeds, in
    seed order, capped so that the total stays within settings.max_blocks."""
    shape = eps_m1.shape
    room = None if settings.max_blocks is None else max(0, settings.max_blocks - len(done))
    out: list[tuple[int, int]] = []
    for seed in seeds(eps_m1, weights, done, settings):
        for e in neighbours(seed, shape, h):
            if e not in done and e not in out:
                out.append(e)
    return out if room is None else out[:room]


def screening_candidates(eps_m1: np.ndarray, weights: list[np.ndarray], settings: RefineSettings
                         ) -> list[tuple[int, int]]:
    """The entries a screening fit of the whole grid sends to full fidelity, most important first: M1's best
    entry, the entries with an M2/M3 weight above weight_threshold, those whose ε_global is within margin of
    the best, and the best entry's grid neighbours that the screening cannot rule out (:func:`plausible`);
    capped at settings.max_blocks."""
    best = tuple(int(v) for v in np.unravel_index(int(np.nanargmin(eps_m1)), eps_m1.shape))
    order = [best] + heavy_entries(weights, settings.weight_threshold)
    limit = (1.0 + settings.margin) * float(np.nanmin(eps_m1))
    order += [(int(i), int(j)) for i, j in zip(*np.nonzero(eps_m1 <= limit))]
    order += plausible(neighbours(best, eps_m1.shape), best, eps_m1, settings.screening.margin)
    out = list(dict.fromkeys(order))
    return out if settings.max_blocks is None else out[: settings.max_blocks]


def heavy_entries(weights: list[np.ndarray], threshold: float) -> list[tuple[int, int]]:
    """Entries with a weight above `threshold` in any of `weights`, heaviest first."""
    heavy = []
    for w in weights:
        w = np.nan_to_num(w)
        heavy += [(float(w[i, j]), (int(i), int(j))) for i, j in zip(*np.nonzero(w > threshold))]
    return list(dict.fromkeys(e for _, e in sorted(heavy, reverse=True)))


def plausible(entries, seed: tuple[int, int], eps_screen: np.ndarray, margin: float) -> list[tuple[int, int]]:
    """The `entries` (neighbours of `seed`) that the screening cannot tell from the seed: screening ε_global
    within `margin` × the map's spread (median − best) above the seed's. Measured against its own spread, a
    mixture's flat screening map rules out as much as a single component's steep one."""
    spread = float(np.nanmedian(eps_screen) - np.nanmin(eps_screen))
    limit = float(eps_screen[seed]) + margin * spread
    return [e for e in entries if np.isfinite(eps_screen[e]) and eps_screen[e] <= limit]


def decide_screened(eps_m1: np.ndarray, weights: list[np.ndarray], done: set[tuple[int, int]],
                    eps_screen: np.ndarray, settings: RefineSettings, answer: Answer, index: int,
                    previous: Answer | None, swap=None) -> "Decision":
    """A full-fidelity round's decision after a screening round 0: the neighbours of the full fit's M1 entry
    and weighted entries that the screening cannot rule out (:func:`plausible`); stop rules as :func:`decide`
    (`previous`: the answer of the full-fidelity round before, None after the screening round).

    `swap(seed, entries)`, when given, is the mixture's test: the entries that can stand in for `seed` in
    M3's mixture at the screening fidelity, or None where it does not apply (then :func:`plausible`); the
    seeds are then M1's entry and M3's weighted entries (M2's per-entry transfer functions spread weight
    over entries no mixture needs)."""
    capped = settings.max_blocks is not None and len(done) >= settings.max_blocks
    best = tuple(int(v) for v in np.unravel_index(int(np.nanargmin(eps_m1)), eps_m1.shape))
    new: list[tuple[int, int]] = []
    if not capped:
        seeds = heavy_entries(weights if swap is None else [answer.m3_weights], settings.weight_threshold)
        for seed in dict.fromkeys([best] + seeds):
            near = None if swap is None else swap(seed, neighbours(seed, eps_m1.shape))
            if near is None:
                near = plausible(neighbours(seed, eps_m1.shape), seed, eps_screen, settings.screening.margin)
            new += [e for e in near if e not in done and e not in new]
        if settings.max_blocks is not None:
            new = new[: settings.max_blocks - len(done)]
    return Decision(new, 0, stop_reason(new, capped, answer, previous, True, index, settings))


def stop_reason(new, capped: bool, answer: Answer, previous: Answer | None, finest: bool, index: int,
                settings: RefineSettings) -> str:
    """Why the rounds stop after round `index` ("" = they go on)."""
    if capped:
        return f"refine.max_blocks = {settings.max_blocks} reached"
    if not new:
        return "no new blocks"
    if finest and answer.same_as(previous, settings.tolerance):
        return f"answer unchanged (M1 entry, M3 weights within {settings.tolerance:g})"
    if finest and answer.stalled_since(previous, settings.eps_tolerance):
        return (f"fit no longer improving (M1 entry unchanged, M3 ε_global {answer.m3_eps:.4g} lower by less than "
                f"{settings.eps_tolerance:g} of {previous.m3_eps:.4g})")
    if index + 1 >= settings.max_rounds:
        return f"refine.max_rounds = {settings.max_rounds} reached"
    return ""


@dataclass(frozen=True)
class Decision:
    """A round's decision: the entries the next round adds, the lattice level they were chosen on, and why the
    sweep stops ("" = it goes on)."""

    entries: list[tuple[int, int]]
    level: int
    stop: str


def decide(eps_m1: np.ndarray, weights: list[np.ndarray], done: set[tuple[int, int]], settings: RefineSettings,
           answer: Answer, index: int, previous: tuple[int, Answer] | None = None) -> Decision:
    """Round `index`'s decision from its fit; `previous` = (level, answer) of the round before (None for round 0).

    The lattice is the coarse step halved per round, and halved further while a lattice adds nothing. The
    sweep stops when the block cap is reached, when nothing is left to add, when the answer is unchanged on
    the finest lattice, or at the round cap.
    """
    level = 0 if previous is None else previous[0] + 1
    capped = settings.max_blocks is not None and len(done) >= settings.max_blocks
    new = [] if capped else next_entries(eps_m1, weights, done, settings, spacing(settings.coarse_step, level))
    while not new and not capped and spacing(settings.coarse_step, level) != (1, 1):
        level += 1
        new = next_entries(eps_m1, weights, done, settings, spacing(settings.coarse_step, level))
    finest = previous is not None and spacing(settings.coarse_step, previous[0]) == (1, 1)
    stop = stop_reason(new, capped, answer, None if previous is None else previous[1], finest, index, settings)
    return Decision(new, level, stop)


ROUND_KEYS = ("round", "level", "blocks", "next", "answer", "table")


def read_round(path) -> dict:
    """A round's JSON as :func:`refine_round` writes it (StoreError naming the file when it is not one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"refine round {path}: not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StoreError(f"refine round {path}: not a round's JSON ({err})") from None
    missing = [k for k in ROUND_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise StoreError(f"refine round {path}: not a round's JSON (no {', '.join(missing)}); give the "
                         "refine/round_<n>.json of the round before")
    return data
