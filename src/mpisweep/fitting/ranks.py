"""TSVD rank specs of M2 and M3 (paper Table 1): counts, fractions of J or percentages."""

from __future__ import annotations

import math

import numpy as np


def parse_rank(r):
    """One rank spec as written in a config or a call → a count (int) or a fraction of J (float).

    "5%" or "5 %" → 0.05; 28 → 28; 0.05 → 0.05. Anything else raises ValueError.
    """
    if isinstance(r, str):
        text = r.strip()
        if not text.endswith("%"):
            raise ValueError(f"ranks: {r!r} is not a percentage (write e.g. '5%') or a count")
        try:
            return float(text[:-1].strip()) / 100.0
        except ValueError:
            raise ValueError(f"ranks: {r!r} is not a percentage") from None
    if isinstance(r, (bool, np.bool_)):
        raise ValueError(f"ranks: {r!r} is not a count or a fraction")
    if isinstance(r, (int, np.integer)):
        return int(r)
    if isinstance(r, (float, np.floating)):
        return float(r)
    raise ValueError(f"ranks: {r!r} is not a count (int), a fraction (float) or a percentage ('5%')")


def rank_counts(ranks, n_cols: int) -> list[int]:
    """Rank specs → counts s. int: a count; float in (0, 1] or "p%": fraction of J = n_cols."""
    if isinstance(ranks, (int, float, str, np.integer, np.floating)):
        ranks = [ranks]
    ranks = list(ranks)
    if not ranks:
        raise ValueError("ranks: empty")
    out = []
    for r in map(parse_rank, ranks):
        if isinstance(r, int):
            if not 1 <= r <= n_cols:
                raise ValueError(f"ranks: count {r} outside 1..{n_cols}")
            out.append(r)
        else:
            if not 0.0 < r <= 1.0:
                raise ValueError(f"ranks: fraction {r} outside (0, 1]")
            # floor, as in the paper's Table 1 (4 % of 720 → 28, 0.5 % → 3)
            out.append(max(1, min(n_cols, math.floor(r * n_cols + 1e-9))))
    return out


def rank_list(ranks) -> list:
    """The rank specs as a list (one spec alone becomes a list of one)."""
    return list(ranks) if not isinstance(ranks, (int, float, str, np.integer, np.floating)) else [ranks]
