"""The paper's problem run for real with multi-fidelity rounds: what each stage cost and what it found.

    snakemake --cores 2 --configfile config/paper.yaml config/refine/paper.yaml > paper.log 2>&1
    python benchmarks/paper_run.py paper.log [paper2.log ...] [--output results/paper-multifidelity]

Reads Snakemake's logs of the run (several when it was stopped and resumed: each job's start and
finish, its rule and threads) and the run's outputs, and prints per stage the jobs, their wall-clock
seconds and core-seconds (wall × the job's threads, a job's cores being busy or held for its whole
run), the solver's own core-seconds where markers record them (the blocks' wall times), the run's
wall-clock time on N cores projected from its job times, and the answer (M1, M3's weights) against
the virtual scanner's truth.
"""

from __future__ import annotations

import argparse
import heapq
import json
import re
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

STAGES = {  # rule → stage
    "virtual_component": "virtual measurement", "virtual_scanner": "virtual measurement",
    "check_measurement": "virtual measurement",
    "screen": "screening", "simulate": "full fidelity (candidates)",
    "refine": "fits (rounds)", "fit": "fits (final, M0–M3)", "assemble": "fits (final, M0–M3)",
    "m0_dictionary": "M0/M0a dictionaries", "m0a_dictionary": "M0/M0a dictionaries",
}
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")


def jobs(log: Path) -> list[dict]:
    """Every finished job of a Snakemake log: rule, jobid, threads, start and finish (datetime)."""
    lines = log.read_text().splitlines()
    started, finished, stamp = {}, {}, None
    for i, line in enumerate(lines):
        m = STAMP.match(line.strip())
        if m:
            stamp = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            continue
        m = re.match(r"^(local)?(rule|checkpoint) (\w+):$", line.strip())
        if m and stamp is not None:
            block = lines[i + 1:i + 15]
            jobid = next(int(x.split(":")[1]) for x in block if x.strip().startswith("jobid:"))
            threads = next((int(x.split(":")[1]) for x in block if x.strip().startswith("threads:")), 1)
            started[jobid] = {"rule": m.group(3), "threads": threads, "start": stamp}
        m = re.match(r"^Finished jobid: (\d+) \(Rule: (\w+)\)", line.strip())
        if m and stamp is not None:
            finished[int(m.group(1))] = stamp
    return [{**job, "jobid": j, "end": finished[j]} for j, job in started.items() if j in finished]


def wall_clock(times, cores: int) -> float:
    """Longest-first list scheduling: each job goes to the core that is free first."""
    free = [0.0] * cores
    for t in sorted(times, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + t)
    return max(free)


def projected(runs: list[dict], cores: int) -> float:
    """The run's wall-clock seconds on `cores` cores from its own job times: the screening jobs and the
    measurement side by side, then each round (its simulate jobs, then its fit) in turn, then the final
    steps (M0a, which needs the last round, beside the assembly; then the fit); single-threaded jobs,
    the fits as measured."""
    def seconds(j):
        return (j["end"] - j["start"]).total_seconds()

    first = [seconds(j) for j in runs if j["rule"] in ("screen", "virtual_component", "m0_dictionary")]
    total = wall_clock(first, cores)
    total += sum(seconds(j) for j in runs if j["rule"] in ("virtual_scanner", "check_measurement"))
    rounds = sorted((j for j in runs if j["rule"] == "refine"), key=lambda j: j["start"])
    sims = [j for j in runs if j["rule"] == "simulate"]
    for r in rounds:  # the blocks a round fits ran before it, after the round before
        before = [seconds(j) for j in sims if j["end"] <= r["start"] and not j.get("counted")]
        for j in sims:
            if j["end"] <= r["start"]:
                j["counted"] = True
        total += wall_clock(before, cores) if before else 0.0
        total += seconds(r)
    total += wall_clock([seconds(j) for j in runs if j["rule"] in ("assemble", "m0a_dictionary")], cores)
    total += sum(seconds(j) for j in runs if j["rule"] in ("fit", "figures", "refine_table"))
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", type=Path, nargs="+", help="Snakemake's logs of the run, one per start")
    ap.add_argument("--output", type=Path, default=REPO / "results" / "paper-multifidelity")
    args = ap.parse_args(argv)
    per_log = [jobs(log) for log in args.logs]
    runs = [j for log_jobs in per_log for j in log_jobs]
    # the run's own wall-clock: each start's span, not the pauses between them
    spans = [(max(j["end"] for j in js) - min(j["start"] for j in js)).total_seconds() for js in per_log if js]
    table: dict[str, dict] = {}
    for j in runs:
        stage = STAGES.get(j["rule"])
        if stage is None:
            continue
        row = table.setdefault(stage, {"jobs": 0, "wall": 0.0, "core": 0.0})
        seconds = (j["end"] - j["start"]).total_seconds()
        row["jobs"] += 1
        row["wall"] += seconds
        row["core"] += seconds * min(j["threads"], 2)
    out = args.output
    solver = {"screening (all 720 blocks)": sum(json.loads(p.read_text())["wall_time_s"]
                                                for p in (out / "screening" / "dictionary" / "markers").glob("*.json")),
              "full fidelity (candidates)": sum(json.loads(p.read_text())["wall_time_s"]
                                                for p in (out / "dictionary" / "markers").glob("*.json"))}
    print(f"run: {len(spans)} start(s), {sum(spans) / 60:.1f} min wall-clock on 2 cores "
          f"({', '.join(f'{s / 60:.1f}' for s in spans)})\n")
    print("| stage | jobs | job seconds (sum) | core-seconds | solver core-seconds (markers) |")
    print("|---|---|---|---|---|")
    for stage in dict.fromkeys(STAGES.values()):
        if stage in table:
            r = table[stage]
            solve = f"{solver[stage]:.0f}" if stage in solver else ""
            print(f"| {stage} | {r['jobs']} | {r['wall']:.0f} | {r['core']:.0f} | {solve} |")
    dictionary_fits = sum(r["core"] for s, r in table.items() if s != "virtual measurement")
    print(f"\ndictionary and fits: {dictionary_fits:.0f} core-s = {dictionary_fits / 3600:.2f} core-hours")
    print("\nwall-clock on N cores, projected from this run's job times (the jobs as they ran here):")
    print("| cores | " + " | ".join(str(c) for c in (2, 16, 64, 256)) + " |")
    print("|---|---|---|---|---|")
    print("| wall-clock (min) | " + " | ".join(f"{projected([dict(j) for j in runs], c) / 60:.0f}"
                                             for c in (2, 16, 64, 256)) + " |")
    rounds = sorted((out / "refine").glob("round_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    last = json.loads(rounds[-1].read_text())
    print("\n| round | fidelity | blocks added | blocks | core-s | M1 | M3 weights | stop |")
    print("|---|---|---|---|---|---|---|---|")
    for r in last["table"]:
        print(f"| {r['round']} | {r['fidelity']} | {r['blocks_added']} | {r['blocks']} | {r['core_seconds']:.0f} | "
              f"({r['m1_diameter']:g}, {r['m1_value']:g}) | {r['m3_weights']} | {r['stop']} |")
    summary = json.loads((out / "fits" / "summary.json").read_text())
    truth = json.loads((out / "measurement" / "truth.json").read_text())
    print("\nfit step:", json.dumps({k: summary[k] for k in ("M1",) if k in summary})[:400])
    print("truth:", json.dumps(truth)[:400])
    weights = np.asarray(last["answer"]["m3_weights"], float)
    print("M3 weights > 0.01 (last round):",
          [(i, j, round(float(w), 3)) for (i, j), w in np.ndenumerate(np.nan_to_num(weights)) if w > 0.01])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
