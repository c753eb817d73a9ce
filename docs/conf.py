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
author = "the mpisweep developers"
copyright = "the mpisweep developers (MIT licence)"
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
# numpydoc type fields: "optional", "{"a", "b"}" and the like are markup, not classes; the generic
# words numpydoc uses for types are shown as literals, the rest cross-referenced
napoleon_preprocess_types = True
napoleon_type_aliases = {name: f"``{name}``" for name in ("array_like", "callable", "sequence", "iterable")}
add_module_names = False

# Every cross-reference must resolve. The build runs offline (no intersphinx), so the third-party
# types that appear in signatures and numpydoc type fields have no target here; they are listed,
# nothing of mpisweep's own is.
nitpicky = True
nitpick_ignore = [
    ("py:class", "numpy.ndarray"),  # numpy: signatures and Returns sections
    ("py:class", "np.ndarray"),
    ("py:class", "numpy.random.Generator"),
    ("py:class", "xarray.Dataset"),  # xarray: MDF reader, stores, fits
    ("py:class", "xarray.DataArray"),
    ("py:class", "xr.Dataset"),
    ("py:class", "xr.DataArray"),
    ("py:class", "xarray.core.dataset.Dataset"),
    ("py:class", "xarray.core.dataarray.DataArray"),
    ("py:class", "collections.abc.Callable"),  # the standard library
    ("py:class", "types.MappingProxyType"),
    ("py:class", "pathlib.Path"),
    ("py:class", "os.PathLike"),
]

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
html_css_files = ["custom.css"]  # a wider article, wrapping table cells, code that scrolls
html_theme_options = {
    "navigation_with_keys": False,
    # the top bar: the four sections of index.md in a user's order, none hidden under "More"
    "header_links_before_dropdown": 6,
    "navbar_align": "left",
    "show_nav_level": 1,
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
    "footer_start": ["copyright"],
    "footer_end": [],
}
# The left sidebar lists the pages of the current section; the front page and the search page
# belong to no section, so they get none (an empty "Section Navigation" would take a quarter of the page).
html_sidebars = {"index": [], "search": [], "genindex": []}
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
        top = name.split(".")[0]  # the class of a member too: Sweep.write
        if top not in mpisweep._API:
            continue
        obj = getattr(mpisweep, top)
        objtype = sig.parent.get("objtype", "function")
        aliases = {f"{mpisweep._API[top]}.{name}"}
        if getattr(obj, "__module__", None):
            aliases.add(f"{obj.__module__}.{name}")
        for alias in sorted(aliases):
            if alias not in domain.objects:
                domain.note_object(alias, objtype, sig["ids"][0], aliased=True, location=sig)


# ---------------------------------------------------------------------------------------------
# napoleon reads the first line of a property's docstring as "type: description" when it has a
# colon, so "Offset fields in T, x fastest: (ny, nx, 3) …" rendered as a bogus "Type:" field (and a
# broken cross-reference). A property's docstring is a description: its first colon outside
# literals becomes a dash before napoleon sees it (priority 400 < napoleon's 500).
_FIRST_COLON = re.compile(r"(?<!:):(?!:)\s*")


def _property_is_description(app, what, name, obj, options, lines):
    if what != "property" or not name.startswith("mpisweep") or not lines:
        return
    parts = _LITERAL.split(lines[0])
    for i in range(0, len(parts), 2):  # even parts lie outside literals and roles
        if _FIRST_COLON.search(parts[i]):
            parts[i] = _FIRST_COLON.sub(" — ", parts[i], count=1)
            lines[0] = "".join(parts)
            return


# The configuration reference's tables get their column widths (key | default | unit | meaning).
def _mark_config_tables(app, doctree, docname):
    if docname != "configuration":
        return
    from docutils import nodes

    for table in doctree.findall(nodes.table):
        table["classes"].append("config-table")


def setup(app):
    app.connect("autodoc-process-docstring", _property_is_description, priority=400)
    app.connect("autodoc-process-docstring", _plain_text_docstring)
    app.connect("doctree-read", _note_canonical_names)
    app.connect("doctree-resolved", _mark_config_tables)
    return {"parallel_read_safe": True}
