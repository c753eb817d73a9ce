"""Field calibration on blind sets whose particles saw other fields than their files state (fit.fields).

Each set in benchmarks/fields/ is an overlay on config/config.yaml: the mixture 0.75 × (20 nm, 1500 J/m³) +
0.25 × (24 nm, 500 J/m³) on a 5 × 5 grid of (D, K), 4 angles × 5 × 5 offsets, 40 dB, the default band-pass
receive chain, and measurement.virtual.field_scale as the scanner's miscalibration (nothing about it in the
fit's settings). The workflow runs each set to its fits (the fit rule forced, so the calibration of today's
code runs), then this prints the calibration table:

* scales relative to the stated drive x and centres (mT): what the particles saw (field_scale / drive x) and what
  the fit found;
* M1 and M3 (two largest weights) at the stated fields and, when the calibration applies, at the fitted ones;
* M3's ε_global at the stated and the fitted fields;
* cost: the calibration's simulations and core-seconds against the dictionary's blocks.

Run: nice -n 5 .venv/bin/python benchmarks/field_calibration.py [nominal a b c p] [--rows A,O | all] (about 10
minutes per set on 2 shared cores, set p about an hour the first time; the dictionary of a set is simulated once and
kept under results/fields-<set>/). --rows fits the scales on A angles × O offsets per axis (fit.fields.angles,
offsets), or on all rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SETS = ROOT / "benchmarks" / "fields"


def run(name: str, rows: str | None = None) -> Path:
    """Snakemake up to the fits of one set, the fit always rerun (with fit.fields.angles and offsets from `rows`,
    "A,O" or "all", where given); its output folder."""
    overlay = SETS / f"{name}.yaml"
    output = ROOT / yaml.safe_load(overlay.read_text())["output"]
    target = output / "fits" / "summary.json"
    configs = ["config/config.yaml", str(overlay.relative_to(ROOT))]
    with tempfile.TemporaryDirectory() as tmp:
        if rows is not None:
            angles, offsets = (None, None) if rows == "all" else (int(v) for v in rows.split(","))
            check = Path(tmp) / "rows.yaml"
            check.write_text(yaml.safe_dump({"fit": {"fields": {"angles": angles, "offsets": offsets}}}))
            configs.append(str(check))
        print(f"running {name} (Snakemake, up to {target.relative_to(ROOT)})", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", *configs,
                        "--forcerun", "fit", "--", str(target.relative_to(ROOT))],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return output


def truth(name: str) -> dict[str, float]:
    """The scales the particles saw relative to the stated drive x, and the centres in mT in that frame."""
    virtual = yaml.safe_load((SETS / f"{name}.yaml").read_text())["measurement"]["virtual"]
    scale = virtual.get("field_scale", {})
    offsets = (scale.get("offsets", []) + [1.0] * 3)[:3]
    drive = (scale.get("drive", []) + [1.0] * 2)[:2]
    centre = (scale.get("centre", []) + [0.0] * 3)[:3]
    return {**{f"offset {a}": offsets[i] / drive[0] for i, a in enumerate("xy")},
            **{f"drive {a}": drive[i] / drive[0] for i, a in enumerate("xy")},
            **{f"centre {a}": centre[i] / drive[0] for i, a in enumerate("xy")}}


def entry(w: dict) -> str:
    return f"({w['diameter']:g}, {w['anisotropy']:g})"


def row(name: str, output: Path) -> str:
    summary = json.loads((output / "fits" / "summary.json").read_text())
    fields = summary["fields"]
    blocks = sum(json.loads(p.read_text())["wall_time_s"] for p in (output / "dictionary" / "markers").glob("*.json"))
    want = truth(name)
    found = ", ".join(f"{q['name']} {q['fitted']:.4f} ± {q['sigma']:.4f} ({want[q['name']]:.4f})"
                      + (" mT" if q.get("unit") == "mT" else "")
                      for q in fields["parameters"] if q["name"] != "drive x")
    m1 = summary["M1"]
    stated_m3 = summary["M3"][0]["largest_weights"][:2]
    text_m3 = ", ".join(f"{entry(w)} {w['weight']:.3f}" for w in stated_m3)
    if fields["status"] == "calibrated":
        text_m3 += " → " + ", ".join(f"{entry(w)} {w['weight']:.3f}" for w in fields["M3"]["largest_weights"][:2])
        m1_text = f"({m1['best_diameter']:g}, {m1['best_anisotropy']:g}) → {entry(fields['M1'])}"
    else:
        m1_text = f"({m1['best_diameter']:g}, {m1['best_anisotropy']:g})"
    share = fields.get("rows", {"angles": "all", "offsets": ["all"], "rows_share": 1.0})
    rows = f"{share['angles']} × {' × '.join(map(str, share['offsets']))} ({100 * share['rows_share']:.0f} %)"
    return (f"| {name} | {rows} | {found} | {fields['status']} | {m1_text} | {text_m3} | "
            f"{fields['eps_global_stated']:.4f} / {fields['eps_global_fitted']:.4f} | {fields['simulations']} | "
            f"{fields['simulation_core_s']:.0f} / {blocks:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=["nominal", "a", "b", "c"])
    parser.add_argument("--no-run", action="store_true", help="only print the table of finished runs")
    parser.add_argument("--rows", help="fit.fields.angles,offsets for the fit (e.g. 2,3), or 'all'; default: "
                                       "the schema's")
    args = parser.parse_args()
    print("| set | check rows: angles × offsets (share) | scales found ± σ (the particles saw) | status | M1 | M3 | "
          "M3 ε_global stated / fitted | simulations | core-s calibration / dictionary |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.sets:
        output = (ROOT / yaml.safe_load((SETS / f"{name}.yaml").read_text())["output"] if args.no_run
                  else run(name, args.rows))
        print(row(name, output), flush=True)


if __name__ == "__main__":
    main()
