"""The `mpisweep moment` contract: flags, units, CSV output, reference curves, error messages."""

import csv

import numpy as np
import pytest

from mpisweep.cli import main

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
