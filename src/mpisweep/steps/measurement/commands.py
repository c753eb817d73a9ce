"""The measurement stage's commands (``workflow/rules/measurement.smk``): virtual-component,
virtual-scanner, check-measurement."""

from __future__ import annotations

from ...errors import UsageError
from ...sweep.command import Command, add_block_arguments, add_config_argument, block_value, load_sweep, say


def add_virtual_component(p) -> None:
    add_config_argument(p)
    add_block_arguments(p, "core diameter in nm (a configured component)",
                        "anisotropy constant in J/m³ (a configured component)")
    p.add_argument("--output", "-o", help="npz path (default <output>/measurement/components/D…_K….npz)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run_virtual_component(args) -> int:
    from ...sweep.names import block_name
    from .virtual_scanner import simulate_component

    sweep = load_sweep(args.config)
    value = block_value(args, sweep)
    p = sweep.parameter
    name = block_name(args.diameter, value, p.symbol)
    comps = dict(sweep.components)
    if name not in comps:
        raise UsageError(f"--diameter/{p.flag}: ({args.diameter:g} nm, {value:g} {p.unit}) is not a component "
                         f"of measurement.virtual.components ({', '.join(comps)})")
    info = simulate_component(sweep, comps[name], args.output or sweep.layout.component(name), progress=not args.quiet)
    say(f"mpisweep virtual-component {name}: L≤{info['degree']}, rtol={info['rtol']:.3g}, "
        f"wall time {info['wall_time']:.1f} s")
    return 0


def run_virtual_scanner(args) -> int:
    from .virtual_scanner import virtual_scanner

    truth = virtual_scanner(load_sweep(args.config))
    say(f"mpisweep virtual-scanner: {len(truth['files'])} MDF files, SNR {truth['snr_db']} dB, "
        f"noise sigma {truth['noise_sigma']:.3g}")
    return 0


def add_check_measurement(p) -> None:
    add_config_argument(p)
    p.add_argument("--output", "-o", required=True, help="JSON report")


def run_check_measurement(args) -> int:
    from ...io.atomic import write_json
    from .check import check

    report = check(load_sweep(args.config))
    write_json(args.output, report)
    say(f"mpisweep check-measurement: {len(report['files'])} file(s) match the configured scanner")
    return 0


COMMANDS = (
    Command("virtual-component", "virtual scanner: rows of one mixture component (finer solver)",
            "Simulate one component of the virtual scanner's mixture at all rfft bins.",
            add_virtual_component, run_virtual_component),
    Command("virtual-scanner", "virtual scanner: MDF files + calibrations.csv + truth.json",
            "Mix the simulated components, apply the transfer function and noise, and write one MDF file per angle.",
            add_config_argument, run_virtual_scanner),
    Command("check-measurement", "check measured MDF files against the configured scanner",
            "Index the measured files (CSV), check cycle, dividers, samples, grid size, offset fields and channels "
            "against the config; write a JSON report.",
            add_check_measurement, run_check_measurement),
)
