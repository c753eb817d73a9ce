"""The test tiers hold: `make test-quick` leaves out every tier marker, a test that starts Snakemake or the
Slurm cluster without its marker fails, and only tests/helpers.py builds a Snakemake command line."""

import re
import tomllib
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
pytest_plugins = ["pytester"]

# How a test could start Snakemake other than through helpers.snakemake_cmd: the module on a command
# line, the executable, or its Python API (also inside a code string run by a subprocess).
NAME = "snake" + "make"  # spelled in two so that this file does not match its own patterns
BYPASS = re.compile("|".join([
    rf"""["']-m["']\s*,\s*["']{NAME}["']""",  # [python, "-m", "snakemake", ...]
    rf"""[\[(,]\s*["'](\S*/)?{NAME}["']""",  # ["snakemake", ...] or [".venv/bin/snakemake", ...]
    rf"""which\(\s*["']{NAME}["']""",  # shutil.which("snakemake")
    rf"""\b(from|import)\s+{NAME}\b""",  # its Python API
    rf"""\b{NAME}\.(cli|api|main)\b""",
    rf"""["']{NAME}\s+-""",  # a shell line: "snakemake -n ..."
]))


def markers() -> list[str]:
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--strict-markers" in options["addopts"].split()
    return [line.split(":")[0].strip() for line in options["markers"]]


def test_the_quick_target_leaves_out_every_tier_and_the_full_target_none():
    tiers = markers()
    assert tiers == ["workflow", "cluster", "slow"]
    make = (REPO / "Makefile").read_text()
    quick = re.search(r"^test-quick:.*\n\t(.*)$", make, flags=re.M).group(1)
    assert quick.endswith(f'-m "{" and ".join(f"not {tier}" for tier in tiers)}" tests'), quick
    full = re.search(r"^test:.*\n\t(.*)$", make, flags=re.M).group(1)
    assert "-m \"" not in full and full.endswith(" tests"), full  # no marker selection: every tier


def test_only_the_helper_builds_a_snakemake_command_line():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in ("helpers.py", Path(__file__).name):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if BYPASS.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "build it with helpers.snakemake_cmd / run_snakemake:\n" + "\n".join(offenders)
    # the patterns do catch the ways there are
    for line in ('cmd = [sys.executable, "-m", "NAME", "-n"]', 'subprocess.run(["NAME", "--lint"])',
                 'run(["/x/.venv/bin/NAME"])', 'shutil.which("NAME")', "from NAME.cli import main",
                 "import NAME", 'os.system("NAME -n")'):
        assert BYPASS.search(line.replace("NAME", NAME)), line
    assert not BYPASS.search('"""Fluid tracers: the whole Snakemake DAG end to end"""')


GUARDED = '''
import pytest
from helpers import snakemake_cmd


@pytest.fixture(scope="module")
def run(run_workflow):
    return "never started: the guard fails the test first"


def test_unmarked_builds_a_command(tmp_path):
    snakemake_cmd(tmp_path, "-n")


@pytest.mark.workflow
def test_marked_builds_a_command(tmp_path):
    cmd = snakemake_cmd(tmp_path, "-n", config={"output": "results"})
    assert cmd[1:3] == ["-m", "snakemake"] and cmd[-2:] == ["--configfile", str(tmp_path / "config.yaml")]


def test_unmarked_uses_a_workflow_fixture(run):
    pass


def test_unmarked_uses_the_cluster(slurm_cluster):
    pass


@pytest.fixture
def slurm_cluster():
    raise AssertionError("never set up: the guard fails the test first")
'''


def test_a_test_that_starts_a_tier_without_its_marker_fails_naming_it(pytester):
    """The guard itself, on a copy of tests/conftest.py and helpers.py in a scratch session."""
    for name in ("conftest.py", "helpers.py"):
        (pytester.path / name).write_text((TESTS / name).read_text())
    pytester.makefile(".toml", pyproject=(REPO / "pyproject.toml").read_text())
    pytester.makepyfile(test_guarded=GUARDED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "test_guarded.py")
    result.assert_outcomes(passed=1, failed=1, errors=2)
    for line in ("FAILED *::test_unmarked_builds_a_command *", "ERROR *::test_unmarked_uses_a_workflow_fixture *",
                 "ERROR *::test_unmarked_uses_the_cluster *",
                 "*::test_unmarked_builds_a_command starts Snakemake but is not marked 'workflow': add *",
                 "*::test_unmarked_uses_a_workflow_fixture uses the fixture 'run_workflow' but is not marked "
                 "'workflow'*",
                 "*::test_unmarked_uses_the_cluster uses the fixture 'slurm_cluster' but is not marked 'cluster'*"):
        result.stdout.fnmatch_lines([line])
