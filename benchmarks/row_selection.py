"""The fits with and without the noise-aware row selection (fit.snr_threshold) on finished runs.

For each results directory given (a finished workflow run: its resolved config, measured files and
dictionaries), the fit step runs twice into a scratch folder: with fit.snr_threshold null (every row,
the paper's fit) and at the run's own threshold (default 2). Printed per run: the noise source, the
rows used, M1's entry and ε_global, M3's three largest weights (best rank) and, for a virtual
measurement, the largest |M3 weight − truth| over the truth's entries.

The variants in benchmarks/variants/ are data unlike the project's own files (another writer's background
frames and SNR definition, a dead receive coil, 30–50 dB, other receive chains): run each first with
``.venv/bin/snakemake --cores all --configfile benchmarks/variants/v1-background-30db.yaml`` (its output
is results/variant-1, ~3 minutes on 2 cores).

Run: nice -n 15 .venv/bin/python benchmarks/row_selection.py results [results/variant-1 …]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from mpisweep.steps.fit.fit import run_fit
from mpisweep.sweep import Sweep
from mpisweep.sweep.layout import Layout


def weights_error(summary: dict) -> float | None:
    """max |M3 weight − true weight| over the truth's entries (best rank); None without a truth."""
    rows = (summary.get("recovered") or {}).get("m3_weights_vs_truth")
    return max(abs(r["m3_weight"] - r["true_weight"]) for r in rows) if rows else None


def one(results: Path) -> list[dict]:
    config = Layout(str(results)).fit_config
    if not config.exists():
        raise SystemExit(f"{results}: no {config.relative_to(results)} (run the workflow first)")
    sweep = replace(Sweep.from_dict(json.loads(config.read_text())), output=str(results))
    second = f"best_{sweep.parameter.name}"
    out = []
    threshold = sweep.fit.snr_threshold if sweep.fit.snr_threshold is not None else 2.0
    for value in (None, threshold):
        variant = replace(sweep, fit=replace(sweep.fit, snr_threshold=value))
        log: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:
            s = run_fit(variant, check_report=sweep.layout.check, outdir=Path(tmp),
                        log=log.append)
        noise = next((line[len("noise: "):] for line in log if line.startswith("noise: ")), "-")
        rows = s["rows"]
        best = s["M3"][0]
        out.append({
            "run": str(results), "threshold": value, "noise": noise,
            "rows": f"{rows['rows_used']}/{rows['rows_total']}" if rows.get("selected") else "all",
            "left_out": ",".join(rows.get("channels_left_out", [])) or "-",
            "M1": f"({s['M1']['best_diameter']:g}, {s['M1'][second]:g}) ε {s['M1']['eps_global']:.4f}",
            "M3": ", ".join(f"({w['diameter']:g}, {w[sweep.parameter.name]:g}) {w['weight']:.3f}"
                            for w in best["largest_weights"][:3]) + f"; ε {best['eps_global']:.4f}",
            "M3 vs truth": weights_error(s),
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args()
    rows = [r for path in args.results for r in one(path)]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + " --- |" * len(keys))
    for r in rows:
        print("| " + " | ".join("-" if r[k] is None else (f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]))
                                for k in keys) + " |")


if __name__ == "__main__":
    main()
