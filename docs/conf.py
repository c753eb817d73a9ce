"""Sphinx configuration of the mpisweep documentation.

Build: ``.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html`` (0 warnings).
The gallery scripts in ``docs/examples/`` run at build time (sphinx-gallery).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# The gallery's problems are tiny, so one BLAS thread (set before numpy is imported): with OpenBLAS's
# default threads the examples ran 5× slower on 2 cores shared with other work (busy-waiting threads).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
if str(ROOT / "src") not in sys.path:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT / "src"))

import mpisweep  # noqa: E402

project = "mpisweep"
author = "the mpisweep authors"
copyright = "the mpisweep authors"
release = version = mpisweep.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "examples", "**/*.ipynb", "**/*.py.md5", "**/*.zip"]
templates_path: list[str] = []

# MyST: heading anchors so that pages can link to sections (`solver.md#default-tolerance`)
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# autodoc + napoleon: the API is documented under its public names (mpisweep.X)
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"exclude-members": "__init__, __new__"}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
add_module_names = False

# sphinx-gallery: every docs/examples/plot_*.py runs at build time and shows its figure
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": (),
    "show_memory": False,
    "min_reported_time": 0,
    "matplotlib_animations": False,
    "write_computation_times": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"mpisweep {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False


# ---------------------------------------------------------------------------------------------
# The package's docstrings are written as plain text with RST roles: |x| means a magnitude (never a
# substitution), and parameters are "name: text" paragraphs. Make that render without warnings.
_LITERAL = re.compile(r"(``.*?``|:[a-z:]+:`[^`]*`|`[^`]*`)")
_PARAM_LINE = re.compile(r"^(\*\*)?[A-Za-z_]\w*(, [A-Za-z_]\w*)* ?: \S")


def _escape_outside_literals(line: str) -> str:
    parts = _LITERAL.split(line)
    for i in range(0, len(parts), 2):  # even parts lie outside literals and roles
        text = parts[i].replace("|", r"\|")
        parts[i] = re.sub(r"(?<![\w*\\])\*\*(?=\w[^*]*$)", r"\*\*", text)  # an unclosed **name
    return "".join(parts)


def _plain_text_docstring(app, what, name, obj, options, lines):
    if not name.startswith("mpisweep"):
        return
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        indented = line[:1] in (" ", "\t")
        if line.strip() and not indented and prev.strip():
            if prev[:1] in (" ", "\t") or _PARAM_LINE.match(line):
                out.append("")  # end the previous definition / "name: text" item
        out.append(_escape_outside_literals(line))
    lines[:] = out


# ---------------------------------------------------------------------------------------------
# Cross-references by the defining module's path: `mpisweep.solve` is also found as
# `mpisweep.physics.moment.solve` and via the module `_API` names (`mpisweep.fitting.fit_m1`), as
# the `:canonical:` option does for classes.
def _note_canonical_names(app, doctree):
    from sphinx import addnodes

    domain = app.env.domains["py"] if hasattr(app.env, "domains") else app.env.get_domain("py")
    for sig in doctree.findall(addnodes.desc_signature):
        if sig.get("module") != "mpisweep" or not sig.get("ids"):
            continue
        name = sig.get("fullname", "")
        if name not in mpisweep._API:
            continue
        obj = getattr(mpisweep, name)
        objtype = sig.parent.get("objtype", "function")
        aliases = {f"{mpisweep._API[name]}.{name}"}
        if getattr(obj, "__module__", None):
            aliases.add(f"{obj.__module__}.{name}")
        for alias in sorted(aliases):
            if alias not in domain.objects:
                domain.note_object(alias, objtype, sig["ids"][0], aliased=True, location=sig)


def setup(app):
    app.connect("autodoc-process-docstring", _plain_text_docstring)
    app.connect("doctree-read", _note_canonical_names)
    return {"parallel_read_safe": True}
