"""Conventions: `snakemake --lint` finds nothing, snakefmt would change nothing, ruff (pyproject) is clean."""

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_snakemake

REPO = Path(__file__).resolve().parents[1]
SNAKEFILES = [str(REPO / "Snakefile"), str(REPO / "workflow" / "rules")]


@pytest.mark.workflow
def test_snakemake_lint_is_clean(tmp_path):
    out = run_snakemake(tmp_path, "--lint", timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Lints for" not in out.stdout + out.stderr


def test_snakefmt_would_change_nothing():
    out = subprocess.run([sys.executable, "-m", "snakefmt", "--check", *SNAKEFILES], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_ruff_is_clean():
    """The rules selected in pyproject.toml ([tool.ruff]: E, F, I) on the package, tests and benchmarks."""
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "tests", "benchmarks"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_every_rule_has_a_log_and_a_docstring():
    text = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    rules = text.split("\nrule ")[1:]
    assert len(rules) >= 9
    for rule in rules:
        name = rule.split(":", 1)[0]
        assert '"""' in rule.split("\n", 2)[1], f"rule {name} has no docstring"
        assert "\n    log:" in rule, f"rule {name} has no log"
