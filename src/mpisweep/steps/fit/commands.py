"""The fit stage's commands (``workflow/rules/fit.smk``): fit, check-angles, figures."""

from __future__ import annotations

from pathlib import Path

from ...errors import UsageError
from ...sweep.command import Command, add_config_argument, load_sweep, logger, say


def add_fit(p) -> None:
    add_config_argument(p)
    p.add_argument("--check", help="report of check-measurement (default: index the files again)")
    p.add_argument("--fp", help="assembled dictionary (default <output>/dictionary/fp.zarr)")
    p.add_argument("--m0", help="M0 dictionary (default <output>/dictionary/m0.zarr)")
    p.add_argument("--outdir", help="output folder (default <output>/fits)")


def run_fit(args) -> int:
    from .fit import run_fit as fit

    fit(load_sweep(args.config), args.check, args.fp, args.m0, args.outdir, log=logger("fit"))
    return 0


def add_check_angles(p) -> None:
    add_config_argument(p)
    p.add_argument("--fp", help="assembled dictionary (default <output>/dictionary/fp.zarr)")
    p.add_argument("--output", "-o", help="also write the table as CSV here")


def run_check_angles(args) -> int:
    from ...io.atomic import write_csv
    from .angles import check_angles

    rows = check_angles(load_sweep(args.config), args.fp, log=say)
    fields = ["angle_offset", "angle_sign", "eps_global", "best_diameter", "best_anisotropy", "note"]
    if args.output:
        write_csv(args.output, rows, fields)
    print("angle_offset  angle_sign  eps_global  best (D nm, K J/m³)")
    for r in rows:
        eps = "—" if r["eps_global"] is None else f"{r['eps_global']:.4f}"
        best = r["note"] if r["eps_global"] is None else f"({r['best_diameter']:g}, {r['best_anisotropy']:g})"
        print(f"{r['angle_offset']:>12g}  {r['angle_sign']:>+10d}  {eps:>10}  {best}")
    fitted = [r for r in rows if r["eps_global"] is not None]
    if len(fitted) > 1:
        a, b = fitted[0], fitted[1]
        print(f"best: model angle = {a['angle_offset']:g} {'+' if a['angle_sign'] > 0 else '−'} CSV angle "
              f"(ε_global {a['eps_global']:.4f}, next best {b['eps_global']:.4f}, "
              f"{100 * (b['eps_global'] / a['eps_global'] - 1):.0f} % higher)")
    return 0


def add_figures(p) -> None:
    p.add_argument("models", metavar="MODELS_ZARR")
    p.add_argument("outdir", metavar="OUTDIR")


def run_figures(args) -> int:
    from ...figures import render_all
    from ...io.stores import open_zarr, verify_variables

    src = Path(args.models)
    if not src.exists():
        raise UsageError(f"MODELS_ZARR: {src} not found")
    for path in render_all(verify_variables(open_zarr(src), src), args.outdir):
        print(path)
    return 0


COMMANDS = (
    Command("fit", "fit M0, M0a (model neel), M1, M2, M3; write tables, summary.json and models.zarr",
            "Fit M0 (Langevin equilibrium), M0a (anisotropic equilibrium; model neel only), M1 (the best single "
            "dictionary entry), M2 (TSVD-regularised non-negative weights) and M3 (weights with one transfer "
            "function per channel and frequency) to the measured data and write the results under <output>/fits.",
            add_fit, run_fit),
    Command("check-angles", "which angle convention (from x or y, either sense) fits the data best",
            "Fit M1 to the measured files under each candidate mapping model angle = offset + sign × CSV angle "
            "(offset 0° or 90°, sign ±1) and print the mappings, best first.",
            add_check_angles, run_check_angles),
    Command("figures", "render the figures of a models.zarr",
            "Open MODELS_ZARR (the fit step's models dataset) and write the PNG figures of "
            "mpisweep.figures.render_all into OUTDIR.",
            add_figures, run_figures),
)
