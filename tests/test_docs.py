"""The documentation site builds with warnings as errors: every page, the API reference, the gallery.

The gallery's scripts (docs/examples/plot_*.py) run during the build, so this also checks that they
still work against the current package. The README's links into the docs must resolve.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
EXAMPLES = sorted(p.stem for p in (DOCS / "examples").glob("plot_*.py"))
PAGES = sorted(p.stem for p in DOCS.glob("*.md"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("sphinx")
    out = tmp_path_factory.mktemp("docs")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(out / "doctrees"),
           "-D", "sphinx_gallery_conf.run_stale_examples=1",  # run every example, even if unchanged
           str(DOCS), str(out / "html")]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    log = run.stdout[-4000:] + run.stderr[-8000:]
    assert run.returncode == 0, f"sphinx failed ({run.returncode}):\n{log}"
    assert "WARNING" not in run.stderr and "ERROR" not in run.stderr, log
    return out / "html"


def test_every_page_is_built(site):
    assert (site / "index.html").is_file()
    assert {"index", "getting-started", "api", "develop"} <= set(PAGES)
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), page


def test_api_page_documents_every_public_name(site):
    import mpisweep

    html = (site / "api.html").read_text()
    missing = [name for name in mpisweep._API if f'id="mpisweep.{name}"' not in html]
    assert not missing, f"api.md lacks {missing}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_gallery_example_runs_and_shows_its_figure(site, example):
    page = site / "auto_examples" / f"{example}.html"
    assert page.is_file()
    images = re.findall(rf'src="(\.\./_images/sphx_glr_{example}_\d+\.png)"', page.read_text())
    assert images, f"{example}: no figure on its page"
    for image in images:
        png = (page.parent / image).resolve()
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png


def test_gallery_has_the_four_examples():
    assert len(EXAMPLES) >= 4


def test_readme_links_into_the_docs_resolve():
    text = (REPO / "README.md").read_text()
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert any(t.startswith("docs/") and t.endswith(".md") for t in targets)
    for target in targets:
        assert (REPO / target).exists(), target
    picture = re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", text).group(1)
    assert (REPO / picture).stat().st_size < 200_000
    assert len(text.splitlines()) < 150
