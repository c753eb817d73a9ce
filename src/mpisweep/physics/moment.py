"""⟨m⟩(t) and d⟨m⟩/dt over one drive cycle under any of the particle models.

* ``fp``: the Néel Fokker–Planck equation with anisotropy (paper eqs. 4–6), periodic steady state;
* ``brown``: the Brownian Fokker–Planck equation of a rigid dipole in a fluid (a
  :class:`~mpisweep.physics.params.BrownParticle`), periodic steady state;
* ``equilibrium``: the static Boltzmann equilibrium with anisotropy, f ∝ exp(ξ h·m + σ (n·m)²),
  followed instantaneously (no relaxation);
* ``langevin``: the Langevin model without anisotropy (paper eq. 7, model M0).
"""

from __future__ import annotations

import time

import numpy as np

from .equilibrium import BoltzmannQuadrature, langevin_moment
from .excitation import Excitation
from .params import AnyParticle, BrownParticle, Particle
from .solver import SolveResult
from .solver import solve as solve_fp

MODELS = ("fp", "brown", "equilibrium", "langevin")
#: the models that integrate a Fokker-Planck equation, and the particle type each takes
FOKKER_PLANCK = {"fp": Particle, "brown": BrownParticle}


def solve(particle: AnyParticle, excitation: Excitation, easy_axis=(1.0, 0.0, 0.0), *, model: str = "fp",
          **solver_options) -> SolveResult:
    """One drive cycle of the mean moment ⟨m⟩ and its rate d⟨m⟩/dt in periodic steady state.

    Parameters
    ----------
    particle : Particle or BrownParticle
        The particle; ``model="brown"`` takes a :class:`~mpisweep.BrownParticle`, the others a
        :class:`~mpisweep.Particle`.
    excitation : Excitation
        The drive and offset field (T); the result is sampled at ``excitation.times``.
    easy_axis : array_like
        Unit easy-axis vector n (3,), e.g. ``easy_axis_vector(30)`` for 30° from x in the x-y plane.
        Ignored by ``brown`` and ``langevin`` (no easy axis).
    model : str
        One of :data:`~mpisweep.MODELS`: ``"fp"`` (Néel Fokker–Planck), ``"brown"`` (Brownian
        Fokker–Planck), ``"equilibrium"`` (static anisotropic equilibrium), ``"langevin"``.
    **solver_options
        For ``fp`` and ``brown`` only: ``degree`` (truncation degree L, automatic by default),
        ``rtol`` and ``atol`` (integrator tolerances, default from :func:`~mpisweep.default_rtol`),
        ``max_degree`` (60: a higher degree, given or automatic, is refused with
        :class:`~mpisweep.errors.DegreeError` before any work; None lifts it).

    Returns
    -------
    ~mpisweep.physics.solver.SolveResult
        ⟨m⟩ and d⟨m⟩/dt in the lab frame over one cycle. For the equilibrium models ``degree`` is 0
        and ``stats`` is empty: nothing is integrated.

    Raises
    ------
    ValueError
        An unknown model, a particle of the wrong type, or solver options for a static model.
    """
    if model not in MODELS:
        raise ValueError(f"model: unknown model {model!r} (choose {', '.join(MODELS)})")
    if model in FOKKER_PLANCK:
        kind = FOKKER_PLANCK[model]
        if not isinstance(particle, kind):
            raise ValueError(f"model {model!r} takes a {kind.__name__}, got a {type(particle).__name__}")
        return solve_fp(particle, excitation, np.asarray(easy_axis, float), **solver_options)
    if solver_options:
        raise ValueError(f"model {model!r} takes no solver options, got {sorted(solver_options)}")
    start = time.perf_counter()
    times = excitation.times
    field, field_rate = excitation.field(times), excitation.field_rate(times)
    if model == "langevin":
        moment, rate = langevin_moment(particle, field, field_rate)
    else:
        moment, rate = BoltzmannQuadrature(particle, np.asarray(easy_axis, float)).moments(field, field_rate)
    return SolveResult(times=times, moment=moment, rate=rate, degree=0, periodicity=0.0, cycles=0,
                       wall_time=time.perf_counter() - start)
