"""The real head-scanner system function: which model and which additions explain it, on the original and the repeat.

Imports the centre line (robot y = -11.2 mm: 9 positions and the line's background row) of
../shared/data/realdata/headscanner2018/systemMatrixNew.h5 and of its repeat test_systemMatrixNew.h5 (each one's
noise from the other), then runs the workflow on config/headscanner.yaml with each candidate's overlay, for both
files, and prints one table row per candidate and file:

* M0 (Langevin), M1 and M3 (Néel, random easy axes) at the stated fields, with free gains per row (eq. 15);
* the field calibration: the gradient scale and the field-free point (FFP) found, M1 and M3 at the fitted fields,
  and M3's ε per harmonic there;
* the measured transfer function: the way it fits best at M1's entry, ε with it, and how far the free gains
  stray from it (their ratio at the highest evaluated harmonic against the lowest).

Candidates: the config as shipped; larger cores (D to 40 nm, K = 0); a selection-field component across the
drive (a constant offset along y of 0.5, 1 or 2 mT: the line passes beside the FFP).

Run: nice -n 5 .venv/bin/python benchmarks/headscanner.py [candidates] (about 2 minutes per candidate and file on
2 shared cores; everything under results/headscanner-bench/).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DATA = SHARED / "realdata" / "headscanner2018"
WORK = ROOT / "results" / "headscanner-bench"
FILES = {"original": ("systemMatrixNew.h5", "test_systemMatrixNew.h5", [29]),
         "repeat": ("test_systemMatrixNew.h5", "systemMatrixNew.h5", [])}
OTHER_LINES = [*range(0, 10), *range(20, 30)]  # rows of the lines at y = -21.2 and -1.2 mm
CANDIDATES = {
    "as shipped": {},
    "larger cores, K = 0": {"grids": {"diameters": {"start": 16, "stop": 40, "step": 2}, "anisotropies": [0]}},
    **{f"across-drive field {b:g} mT": {"offsets": {"y": {"min": b, "max": b, "count": 1}},
                                        "grids": {"diameters": {"start": 16, "stop": 30, "step": 2},
                                                  "anisotropies": [0]}}
       for b in (0.5, 1.0, 2.0)},
}


def import_centre_line(name: str) -> Path:
    """The centre line of one file as an MDF with its calibrations.csv; the folder."""
    from mpisweep.io.raw_frames import Drive, import_raw

    frames, repeat, repeat_failed = FILES[name]
    folder = WORK / name / "import"
    folder.mkdir(parents=True, exist_ok=True)
    import_raw(DATA / frames, folder / "centre.mdf", Drive(125e6, (4864,), (5e-3,)),
               conversion=(0.00012957305, 0.015548877), averages=1000,
               positions_csv=DATA / "systemMatrixNew_positions.csv", failed_rows=OTHER_LINES,
               repeat_path=DATA / repeat, repeat_failed_rows=repeat_failed)
    (folder / "calibrations.csv").write_text("path,easyAxisOrientation\ncentre.mdf,0\n")
    return folder


def run(file: str, candidate: str, folder: Path) -> dict:
    """The workflow on config/headscanner.yaml with the candidate's overlay; its summary.json."""
    slug = candidate.replace(" ", "-").replace(",", "").replace("=", "")
    output = WORK / file / slug
    overlay = {**CANDIDATES[candidate], "output": str(output),
               "measurement": {"mdf": {"directory": str(folder)}},
               "fit": {"transfer_function": {"path": str(SHARED / "transferFunction-PreinstalledUH.h5")}}}
    output.mkdir(parents=True, exist_ok=True)
    (output / "overlay.yaml").write_text(yaml.safe_dump(overlay))
    target = output / "fits" / "summary.json"
    print(f"running {candidate} on the {file}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/config.yaml",
                    "config/headscanner.yaml", str(output / "overlay.yaml"), "--forcerun", "fit", "--",
                    str(target)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(target.read_text())


def row(file: str, candidate: str, s: dict) -> str:
    f, tf = s["fields"], s["transfer_function"]
    params = {q["name"]: q["fitted"] for q in f.get("parameters", [])}
    m3_top = ", ".join(f"({w['diameter']:g}, {w['anisotropy']:g}) {w['weight']:.2f}"
                       for w in f["M3"]["largest_weights"][:2]) if "M3" in f else ""
    per_harmonic = " ".join(f"{e:.2f}" for e in f["M3"]["eps_freq"]) if "M3" in f else ""
    ratio = tf["free_over_measured"]
    cells = [candidate, file, f"{s['M0']['eps_global']:.3f}",
             f"({s['M1']['best_diameter']:g}, {s['M1']['best_anisotropy']:g}) {s['M1']['eps_global']:.3f}",
             f"{min(r['eps_global'] for r in s['M3']):.3f}",
             f"{params.get('offset x', float('nan')):.4f}", f"{params.get('centre x', float('nan')):+.3f}",
             f"({f['M1']['diameter']:g}, {f['M1']['anisotropy']:g}) {f['M1']['eps_global']:.3f}" if "M1" in f else "",
             f"{m3_top}; {f['M3']['eps_global']:.3f}" if "M3" in f else "", per_harmonic,
             f"{tf['chosen']['applied_to']} {tf['M1']['eps_global']:.3f}", f"{ratio[-1] / ratio[0]:.1f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="*", default=list(CANDIDATES))
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: the head-scanner data are not at {DATA} (../shared is absent)")
        return
    folders = {name: import_centre_line(name) for name in FILES}
    print("| candidate | file | M0 ε | M1 (D, K) ε | M3 ε | gradient scale | FFP shift mT | M1 at fitted fields "
          "| M3 at fitted fields | M3 ε per harmonic | measured TF: way, ε | free/measured gain, top/lowest |")
    print("| --- " * 12 + "|")
    for candidate in args.candidates:
        for file, folder in folders.items():
            print(row(file, candidate, run(file, candidate, folder)), flush=True)


if __name__ == "__main__":
    main()
