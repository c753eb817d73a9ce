"""The orientation stage's commands (``workflow/rules/orientation.smk``): phantoms, model-matrices,
reconstruct, orientation-summary."""

from __future__ import annotations

from ...errors import UsageError
from ...sweep.command import Command, add_config_argument, load_sweep, logger


def workers(args) -> int:
    """--jobs, checked: worker processes of a step."""
    if args.jobs < 1:
        raise UsageError(f"--jobs: must be at least 1, got {args.jobs}")
    return args.jobs


def add_phantoms(p) -> None:
    add_config_argument(p)
    p.add_argument("--jobs", type=int, default=1, help="simulate this many (angle, component) sets at once (processes)")


def run_phantoms(args) -> int:
    from .phantoms import simulate_phantoms

    truth = simulate_phantoms(load_sweep(args.config), workers=workers(args), log=logger("phantoms"))
    print(f"{len(truth['phantoms'])} phantom measurements, noise σ {truth['noise_sigma']:.4g}")
    return 0


def add_model_matrices(p) -> None:
    add_config_argument(p)
    p.add_argument("--model", action="append", choices=["M1", "M2", "M3"],
                   help="fit model (repeatable; default: those in orientation.models)")
    p.add_argument("--jobs", type=int, default=1, help="simulate this many (D, K) entries at once (processes)")


def run_model_matrices(args) -> int:
    from .model_matrices import synthesize

    synthesize(load_sweep(args.config), args.model, log=logger("model-matrices"), workers=workers(args))
    return 0


def add_reconstruct(p) -> None:
    add_config_argument(p)
    p.add_argument("--model", required=True, choices=["measured", "M1", "M2", "M3"], help="system-matrix set")
    p.add_argument("--jobs", type=int, default=1, help="split the phantoms over this many processes")


def run_reconstruct(args) -> int:
    from .reconstruct import reconstruct

    reconstruct(load_sweep(args.config), args.model, log=logger("reconstruct"), workers=workers(args))
    return 0


def run_orientation_summary(args) -> int:
    from .summary import figures, summarize

    sweep = load_sweep(args.config)
    summarize(sweep, log=print)
    for path in figures(sweep):
        print(path)
    return 0


COMMANDS = (
    Command("phantoms", "virtual phantom measurements (MDF) + measurements.csv + truth.json",
            "Simulate the single-sample and map phantoms of orientation.phantoms with the virtual scanner's mixture, "
            "transfer function, background and noise.",
            add_phantoms, run_phantoms),
    Command("model-matrices", "full-band model system matrices from the fit (zarr + MDF per angle)",
            "Simulate the non-zero-weight (D, K) entries of the M1/M2/M3 fits on every bin from "
            "orientation.matrices.min_frequency up and apply the transfer function.",
            add_model_matrices, run_model_matrices),
    Command("reconstruct", "multi-contrast Kaczmarz reconstruction of every phantom + readout",
            "Reconstruct all phantoms with one system-matrix set (measured, M1, M2, M3) and read out each "
            "single-sample phantom's position and easy-axis angle.",
            add_reconstruct, run_reconstruct),
    Command("orientation-summary", "angle and position error statistics + orientation figures",
            "Score every readout table (bias, SD, mean absolute error, 95th percentile, maximum; position error in "
            "pixels) and draw the box plot and orientation maps.",
            add_config_argument, run_orientation_summary),
)
