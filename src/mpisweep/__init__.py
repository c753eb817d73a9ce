"""mpisweep: model-based MPI system-matrix dictionaries for immobilised, easy-axis-aligned particles.

What a researcher scripts with (imported on first use, so ``import mpisweep`` stays quick)::

    import mpisweep as ms
    p = ms.Particle(22e-9, 1100)                                   # SI: m, J/m³
    ex = ms.Excitation((12.59e-3, 13.55e-3), (102, 96), 2.5e6, offset=(5e-3, -3e-3, 0))
    r = ms.solve(p, ex, ms.easy_axis_vector(30))                   # model="fp" | "equilibrium" | "langevin"
    rows = ms.spectrum(r.rate)                                     # φ_k per receive channel

Layers, bottom up: the kernels :mod:`mpisweep.physics` (solver), :mod:`mpisweep.fitting` (M0,
M0a, M1, M2, M3), :mod:`mpisweep.io` (MDF, Zarr), :mod:`mpisweep.orientation` (multi-contrast
reconstruction and readout) and :mod:`mpisweep.figures`; the workflow's shared machinery
:mod:`mpisweep.sweep`; its steps :mod:`mpisweep.steps`, one package per stage.
"""

from importlib import import_module

from ._version import __version__

_API = {
    "solve": "mpisweep.physics.moment",
    "MODELS": "mpisweep.physics.moment",
    "Particle": "mpisweep.physics.params",
    "BrownParticle": "mpisweep.physics.params",
    "Excitation": "mpisweep.physics.excitation",
    "easy_axis_vector": "mpisweep.physics.operator",
    "simulate_block": "mpisweep.physics.block",
    "offset_grid": "mpisweep.physics.block",
    "EasyAxisDistribution": "mpisweep.physics.distribution",
    "spectrum": "mpisweep.physics.spectra",
    "mixing_bins": "mpisweep.physics.spectra",
    "auto_degree": "mpisweep.physics.solver",
    "default_rtol": "mpisweep.physics.solver",
    "read_system_matrix": "mpisweep.io.mdf",
    "write_system_matrix": "mpisweep.io.mdf",
    "open_dictionary": "mpisweep.io.stores",
    "read_measurement": "mpisweep.io.mdf.measurement",
    "write_measurement": "mpisweep.io.mdf.measurement",
    "kaczmarz": "mpisweep.orientation.kaczmarz",
    "kaczmarz_batch": "mpisweep.orientation.kaczmarz",
    "read_out": "mpisweep.orientation.readout",
    "fit_m0": "mpisweep.fitting",
    "fit_m0a": "mpisweep.fitting",
    "fit_m1": "mpisweep.fitting",
    "fit_m2": "mpisweep.fitting",
    "fit_m3": "mpisweep.fitting",
    "Sweep": "mpisweep.sweep.config",
    "MpisweepError": "mpisweep.errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mpisweep' has no attribute {name!r}")


def __dir__():
    return __all__
