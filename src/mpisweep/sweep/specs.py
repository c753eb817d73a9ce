"""Spec files: what each workflow step depends on, one small JSON per concern.

Snakemake reruns a job when an input changes. Every job reads the whole resolved config, but
depends only on the spec of its own concern, each rewritten only when its own hash changes:

    config      the resolved config without orientation → assemble, m0_dictionary, fit (cheap to redo)
    matrices    config + orientation.models/matrices → model matrices (readout settings never re-simulate)
    orientation the whole resolved config    → reconstruction, readout
    phantoms    what determines the virtual phantom measurements → phantoms
    dictionary  what determines one block    → simulate
    screening   the same at the screening fidelity, and which blocks are screened (refine.screening) → screen
    component_* one virtual-scanner component → virtual_component
    virtual     mixture, noise, transfer fn  → virtual_scanner
    check       measurement source + scanner → check_measurement

So a new fit rank or SNR never recomputes a dictionary block, a new particle constant
recomputes all of them, and a new grid value adds only its new blocks.
"""

from __future__ import annotations

from .config import Sweep, digest


def _easy_axes(d: dict) -> dict:
    """The easy axes of a resolved config: in-plane angles_deg, or directions_deg in 3D."""
    return {k: d["grids"][k] for k in ("angles_deg", "directions_deg") if k in d["grids"]}


def _scanner(sweep: Sweep) -> dict:
    d = sweep.to_dict()
    return {k: d[k] for k in ("scanner", "offsets")} | _easy_axes(d) | {"bins": d["frequencies"]["bins"]}


def dictionary_spec(sweep: Sweep) -> dict:
    """Everything that determines one dictionary block except its (D, K): the shards' identity."""
    d = sweep.to_dict()
    return {k: d[k] for k in ("model", "particle", "scanner", "offsets", "solver") if k in d} | _easy_axes(d) | {
        "bins": d["frequencies"]["bins"],
    }


def component_spec(sweep: Sweep, component: dict) -> dict:
    """Everything that determines the virtual scanner's rows of one mixture component."""
    d = sweep.to_dict()
    spec = {k: d[k] for k in ("model", "particle", "scanner", "offsets", "solver") if k in d}
    spec |= _easy_axes(d)
    spec["virtual_solver"] = d["measurement"]["virtual"]["solver"]
    if "field_scale" in d["measurement"]["virtual"]:  # (absent: the specs of stated fields are unchanged)
        spec["field_scale"] = d["measurement"]["virtual"]["field_scale"]
    name = sweep.parameter.name
    spec["component"] = {"diameter": float(component["diameter"]), name: float(component[name])}
    return spec


def all_specs(sweep: Sweep) -> dict[str, dict]:
    """name → spec of every concern of the sweep (the Snakefile writes each to layout.spec(name))."""
    d = sweep.to_dict()
    phantoms = {k: d[k] for k in ("particle", "scanner", "offsets", "solver", "output")}
    geometry = {k: d["orientation"].get(k) for k in ("gradient", "field_of_view")}
    phantoms |= {"virtual": d["measurement"]["virtual"],
                 "orientation": {k: d["orientation"].get(k) for k in ("enabled", "phantoms")} | geometry}
    config = {k: v for k, v in d.items() if k not in ("orientation", "cluster")}  # cluster: job sizing only
    specs = {
        "config": config,
        "matrices": config | {"orientation": {k: d["orientation"].get(k) for k in ("models", "matrices")}},
        "orientation": d,
        "phantoms": phantoms,
        "dictionary": dictionary_spec(sweep),
        "virtual": {"virtual": d["measurement"]["virtual"], "scanner": _scanner(sweep), "output": sweep.output,
                    "geometry": geometry},
        "check": {"measurement": d["measurement"], "scanner": _scanner(sweep), "output": sweep.output},
    }
    if sweep.refine.enabled and sweep.refine.screening is not None:
        from .fidelity import screening_sweep

        specs["screening"] = dictionary_spec(screening_sweep(sweep))
        if sweep.refine.screening.every != 1:  # which blocks are screened (absent: all, the spec as before)
            specs["screening"]["every"] = sweep.refine.screening.every
    for name, comp in sweep.components:
        specs[f"component_{name}"] = component_spec(sweep, comp)
    return specs


def spec_hashes(sweep: Sweep) -> dict[str, str]:
    return {name: digest(spec) for name, spec in all_specs(sweep).items()}
