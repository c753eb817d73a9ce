"""The README's "From Python" example runs as written."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_from_python_example_runs(capsys):
    text = (REPO / "README.md").read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    exec(compile(code, "README.md (From Python)", "exec"), {})
    out = capsys.readouterr().out
    assert "L = 13" in out and "(2, 2, 13, 2, 2)" in out
    eps = float(re.search(r"M1 eps_global = (\S+)", out).group(1))
    assert eps < 1e-10
