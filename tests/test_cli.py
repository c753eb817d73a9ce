"""The `mpisweep moment` contract: flags, units, CSV output, reference curves, error messages."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpisweep._version import __version__
from mpisweep.cli import main, registry

CASE_B = ["--diameter", "22", "--anisotropy", "1100", "--easy-axis", "30", "--drive", "12.59", "13.55",
          "--dividers", "102", "96", "--base-frequency", "2.5e6", "--offset", "5", "-3"]
CASE_A = ["--diameter", "20", "--anisotropy", "0", "--easy-axis", "0", "--drive", "12",
          "--dividers", "100", "--base-frequency", "2.5e6", "--offset", "0", "0", "--samples", "1000"]


def run_moment(tmp_path, args):
    out = tmp_path / "m.csv"
    assert main(["moment", *args, "--output", str(out)]) == 0
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t", "mx", "my", "mz", "dmx", "dmy", "dmz"]
    return np.array(rows[1:], dtype=float)


@pytest.mark.parametrize("args,fixture", [(CASE_A, "case_a"), (CASE_B, "case_b")])
def test_command_reproduces_mnpdynamics(tmp_path, args, fixture, request, capsys):
    reference = request.getfixturevalue(fixture)
    table = run_moment(tmp_path, args)
    assert table.shape == (reference.shape[0], 7)
    np.testing.assert_allclose(table[:, 0], reference[:, 0], rtol=1e-9, atol=1e-15)
    assert np.abs(table[:, 1:4] - reference[:, 1:4]).max() <= 1e-4
    assert np.linalg.norm(table[:, 1:4], axis=1).max() <= 1.0
    report = capsys.readouterr().err
    assert "degree L=" in report and "periodicity residual" in report and "wall time" in report


def test_easy_axis_vector_equals_angle(tmp_path):
    # Same axis up to rounding: the adaptive steps may differ, so compare at solve accuracy.
    by_angle = run_moment(tmp_path, CASE_B + ["--samples", "96", "--rtol", "1e-5"])
    by_vector = run_moment(tmp_path, CASE_B[:4] + ["--easy-axis-vector", "1.7320508075688772", "1", "0"]
                           + CASE_B[6:] + ["--samples", "96", "--rtol", "1e-5"])
    np.testing.assert_allclose(by_angle[:, :4], by_vector[:, :4], atol=5e-5)
    assert np.abs(by_angle[:, 4:] - by_vector[:, 4:]).max() <= 1e-3 * np.abs(by_angle[:, 4:]).max()


def test_equilibrium_model_without_anisotropy_is_langevin(tmp_path):
    eq = run_moment(tmp_path, CASE_B[:2] + ["--model", "equilibrium"] + CASE_B[6:])
    lv = run_moment(tmp_path, CASE_B[:2] + ["--model", "langevin"] + CASE_B[6:])
    assert eq.shape == (1632, 7)
    np.testing.assert_allclose(eq[:, 1:], lv[:, 1:], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--diameter", "-22"], "--diameter"),
        (["--diameter", "22", "--samples", "0"], "--samples"),
        (["--diameter", "22", "--model", "brownian"], "--model"),
        (["--diameter", "22", "--offset", "1"], "--offset"),
        (["--diameter", "22", "--dividers", "102"], "--dividers"),
        (["--diameter", "22", "--degree", "0"], "--degree"),
    ],
)
def test_bad_arguments_exit_nonzero_naming_the_argument(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["moment", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unstable_degree_exits_with_message(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["moment", "--diameter", "28", "--anisotropy", "9000", "--degree", "6", "--force-degree", "--output", "-"])
    assert exc.value.code == 1
    assert "unstable truncation" in capsys.readouterr().err


# ------------------------------------------------------------------ output and limits
def test_a_refused_or_failed_run_leaves_an_existing_output_as_it_was(tmp_path, capsys):
    out = tmp_path / "m.csv"
    out.write_text("earlier results\n")
    for args, status in ((["--degree", "2"], 2),  # refused: estimated truncation error above the budget
                         (["--degree", "6", "--force-degree"], 1)):  # solve fails: unstable truncation
        with pytest.raises(SystemExit) as exc:
            main(["moment", "--diameter", "28", "--anisotropy", "9000", *args, "--output", str(out)])
        assert exc.value.code == status
        assert out.read_text() == "earlier results\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]  # no temporary left behind
    capsys.readouterr()


def test_an_unwritable_output_is_refused_before_the_solve(tmp_path, capsys):
    for target, why in ((tmp_path / "missing" / "m.csv", "no directory"), (tmp_path, "it is a directory")):
        with pytest.raises(SystemExit) as exc:
            main(["moment", *CASE_B, "--output", str(target)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--output" in err and why in err and "wall time" not in err


def test_output_is_replaced_only_when_complete(tmp_path):
    out = tmp_path / "m.csv"
    out.write_text("earlier results\n")
    table = run_moment(tmp_path, CASE_B[:-3] + ["--samples", "96"])
    assert table.shape == (96, 7)
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]


def test_fields_beyond_the_degree_limit_are_refused_at_once(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["moment", "--diameter", "22", "--offset", "3000", "0", "--output", "-"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "L = 150" in err and "--max-degree 60" in err
    with pytest.raises(SystemExit) as exc:
        main(["moment", *CASE_B, "--degree", "61", "--output", "-"])
    assert exc.value.code == 2 and "--degree: 61 is above --max-degree 60" in capsys.readouterr().err


def test_the_degree_limit_can_be_lowered_and_raised(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # case B needs L = 13
        main(["moment", *CASE_B, "--samples", "96", "--max-degree", "12", "--output", "-"])
    assert exc.value.code == 2 and "L = 13, above --max-degree 12" in capsys.readouterr().err
    table = run_moment(tmp_path, CASE_B + ["--samples", "96", "--max-degree", "13"])
    assert table.shape == (96, 7)


def test_the_api_refuses_degrees_beyond_max_degree():
    import mpisweep as ms
    from mpisweep.errors import DegreeError

    particle = ms.Particle(22e-9, 1100.0)
    drive = ms.Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6, offset=(3.0, 0.0, 0.0))
    with pytest.raises(DegreeError, match=r"L = 150 .* above max_degree = 60"):
        ms.solve(particle, drive, ms.easy_axis_vector(0))
    with pytest.raises(DegreeError, match=r"L = 150 .* above max_degree = 60"):
        ms.simulate_block(particle, drive.with_offset((0, 0, 0)), [0], ms.offset_grid((3.0, 3.0), (0, 0), 1, 1), [16])
    small = ms.Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6, offset=(5e-3, -3e-3, 0.0), samples=96)
    with pytest.raises(DegreeError, match=r"L = 13 .* above max_degree = 12"):
        ms.solve(particle, small, ms.easy_axis_vector(30), max_degree=12)
    assert ms.solve(particle, small, ms.easy_axis_vector(30), max_degree=None).degree == 13


def test_ctrl_c_exits_130_with_one_line_and_keeps_the_output(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "m.csv"
    out.write_text("earlier results\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # a job started in the background of a non-interactive shell (as CI may run the suite) ignores
    # SIGINT, and Python then keeps ignoring it: give the child the default disposition, as a terminal does
    proc = subprocess.Popen([sys.executable, "-m", "mpisweep", "moment", "--diameter", "26", "--anisotropy", "9000",
                             "--output", str(out)], stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(2.0)  # importing, then solving (≈ 4 s per solve at L = 36)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err == "mpisweep moment: interrupted\n"
    assert out.read_text() == "earlier results\n"


# ------------------------------------------------------------------ the Brownian model
def test_model_brown_solves_a_fluid_tracer(tmp_path, capsys):
    table = run_moment(tmp_path, CASE_B[:2] + ["--model", "brown", "--hydrodynamic-diameter", "40", "--viscosity",
                                               "1e-3"] + CASE_B[6:] + ["--samples", "96"])
    assert table.shape == (96, 7) and np.linalg.norm(table[:, 1:4], axis=1).max() <= 1.0
    assert "degree L=" in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--model", "brown"], "--hydrodynamic-diameter: required with --model brown"),
    (["--model", "brown", "--hydrodynamic-diameter", "10"], "is below --diameter"),
    (["--model", "brown", "--hydrodynamic-diameter", "40", "--anisotropy", "1100"], "--anisotropy: not a parameter"),
    (["--hydrodynamic-diameter", "40"], "--hydrodynamic-diameter: not a parameter of --model fp"),
    (["--model", "brown", "--hydrodynamic-diameter", "40", "--viscosity", "0"], "--viscosity"),
])
def test_brown_arguments_are_checked(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["moment", "--diameter", "22", *args, "--output", "-"])
    assert exc.value.code == 2 and message in capsys.readouterr().err


# ------------------------------------------------------------ the registry and the parser
ROOT = Path(__file__).resolve().parents[1]
#: every subcommand, a user contract: the Snakemake rules and the docs call them by these names
NAMES = {"moment", "mdf-info", "check-config", "import-raw", "warmup", "simulate-block", "assemble", "m0-dictionary",
         "m0a-dictionary", "virtual-component", "virtual-scanner", "check-measurement", "screen-blocks", "refine-round",
         "refine-table", "fit", "check-angles", "figures", "phantoms", "model-matrices", "reconstruct",
         "orientation-summary"}


def rule_commands() -> dict[str, set[str]]:
    """Stage → the subcommands its rules file runs (`-m mpisweep NAME`)."""
    return {path.stem: set(re.findall(r"-m mpisweep ([a-z0-9-]+)", path.read_text()))
            for path in (ROOT / "workflow" / "rules").glob("*.smk")}


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"mpisweep {__version__}\n"


def test_every_command_is_registered_once_and_reachable(capsys):
    commands = registry()
    assert set(commands) == NAMES
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    top = capsys.readouterr().out
    for name, (_, command) in commands.items():
        assert re.search(rf"^\s+{re.escape(name)}\s", top, re.M), name
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert " ".join(command.description.split()[:4]) in " ".join(capsys.readouterr().out.split()), name
    assert set().union(*rule_commands().values()) <= NAMES  # every rule calls a registered command


def test_each_workflow_step_is_declared_in_its_own_stage():
    """A step's command lives in its stage's ``commands`` module, its run function in that stage's package, and
    the stage's rules file is the one that calls it; the tools (no rule) live in mpisweep.sweep.tools."""
    stages = {p.name for p in (ROOT / "src" / "mpisweep" / "steps").iterdir() if (p / "__init__.py").exists()}
    declared = {}
    for name, (module, command) in registry().items():
        package = module.rsplit(".", 1)[0]
        assert command.run.__module__.startswith(package + "."), (name, command.run.__module__)
        if module.startswith("mpisweep.steps."):
            stage = module.split(".")[2]
            assert module == f"mpisweep.steps.{stage}.commands"
            declared.setdefault(stage, set()).add(name)
        else:
            assert package == "mpisweep.sweep.tools", module
    assert set(declared) == stages  # every stage declares commands
    assert {stage: names for stage, names in rule_commands().items() if names} == declared


def test_the_cli_module_declares_no_command():
    source = (ROOT / "src" / "mpisweep" / "cli.py").read_text()
    assert len(source.splitlines()) < 300
    assert source.count("add_argument(") == 1  # --version
    assert not [name for name in NAMES if f'"{name}"' in source]


def test_help_shows_the_defaults_and_what_fit_fits(capsys):
    import mpisweep.steps.fit.fit as fit_step
    from mpisweep.sweep.schema import schema_default

    with pytest.raises(SystemExit):
        main(["moment", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    drive = " ".join(f"{v:g}" for v in schema_default("scanner", "drive"))
    for part in (f"(default: {drive})", "(default: 102 96)", "(default: 2.5e+06)", "(default: 0 0)", "(default: fp)",
                 f"default: {schema_default('solver', 'max_degree')};", "default: 0.001, water", "default: 293",
                 "(default: standard output)"):
        assert part in text, part
    assert "None" not in text and "default: False" not in text
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert "fit M0, M0a (model neel), M1, M2, M3;" in top
    for model in ("M0", "M0a", "M1", "M2", "M3"):  # what the fit step really fits
        assert re.search(rf"\b{model}\b", fit_step.run_fit.__doc__), model


# ---------------------------------------------------------------------- a closed pipe
def test_a_reader_that_has_gone_ends_the_command_quietly_with_141():
    """stdout's reader closes its end before the command writes: no "Broken pipe", no traceback, status 141."""
    read, write = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "mpisweep", "check-config", str(ROOT / "config" / "config.yaml")],
                            stdout=write, stderr=subprocess.PIPE, text=True)
    os.close(write)
    os.close(read)
    _, err = proc.communicate(timeout=300)
    assert (proc.returncode, err) == (141, "")


def test_head_of_the_output_in_a_shell_pipeline():
    command = (f'"{sys.executable}" -m mpisweep check-config "{ROOT / "config" / "config.yaml"}" | head -1; '
               'echo "status ${PIPESTATUS[0]}"')
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    first, status = out.stdout.splitlines()
    assert first == "{"
    assert status in ("status 0", "status 141")  # 141 when the write meets the closed pipe, 0 when it came first
    assert "Broken pipe" not in out.stderr and "Traceback" not in out.stderr
