"""One-cycle periodic steady-state solve of the Néel (or Brownian) Fokker-Planck equation.

solve() rotates the field into the easy-axis frame, assembles A(t) = C0 + Σ_i cos(ω_i t + φ_i) C_i
from the cached operator and orders the unknowns for a narrow band. It then finds the periodic
state by one of three methods (which one runs when: :func:`solve`'s docstring):

* ``relax``: start from the static equilibrium at t = -warmup, integrate through the warm-up and
  one drive cycle with the compiled BDF kernel, and run further cycles until the end matches the
  start; right where relaxation is fast (τ ≤ T);
* ``shooting``: Newton-Krylov on the one-cycle map (physics.periodic);
* ``harmonic``: harmonic balance in the frequency domain (physics.harmonic).

Results are in the lab frame.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import DegreeError, SolverError
from . import harmonic, integrator
from .banded import band_envelope
from .equilibrium import langevin
from .excitation import Excitation
from .operator import Operator, build_operator, degree_ordering, rotation_to_easy_axis
from .params import AnyParticle, BrownParticle
from .periodic import RELAX_CONTRACTION, predicted_contraction, shoot

DEFAULT_WARMUP = 40e-6  # s; 20-40 µs reached periodic steady state in every case measured (docs: solver)
PERIODICITY_TOL = 1e-5  # |<m>(T) - <m>(0)| above this runs another cycle
#: ... and the distance to the periodic state must also be within this fraction of max|<m>| (weak responses)
PERIODICITY_REL = 1e-4
#: responses below this scale get a proportionally smaller default atol (method "auto"), so that the
#: error stays within 1e-4 of max|<m>| (measured: the Debye limit at ξ = 0.01, τ_B = 0.1 T, was 4.8e-4
#: off at the default atol, 5.2e-5 with it scaled); the scale is the Langevin moment L(β·max|B|)
RESPONSE_FLOOR = 0.1
MAX_CYCLES = 6
#: the methods of :func:`solve`; "auto" picks one from the predicted contraction per cycle
METHODS = ("auto", "relax", "shooting", "harmonic")
#: the slow methods stop at this fraction of the periodicity tolerance (integration error gets the rest)
SLOW_TOL_FRACTION = 0.1
#: shooting integrates at rtol times this: an error δ per cycle in the slow mode moves the fixed point
#: by up to δ/(1 − ρ) (measured amplification 100-800 at σ 20-25, 1-3 mT; at 1e-2 three of six Néel
#: validation cases missed min(1e-5, 1e-4·max|<m>|) by up to 2.6×, at 1e-3 all are within 0.47 of it)
SHOOTING_RTOL_FACTOR = 1e-3
#: degrees added to the automatic one where a Néel particle hops too slowly to relax within the cycle: the
#: periodic well populations balance exponentially small hopping rates, set by the density at the barrier,
#: which truncation resolves worse (measured with an offset, σ 20 at 3 mT and σ 25 at 1 mT: 6e-4 and 2e-3 at
#: the automatic L, falling ~3.5× per degree: ≤ 6e-6 at + 6)
SLOW_DEGREE_EXTRA = 6
MIN_DEGREE = 4  # near-isotropic densities (tiny ξ and σ)
STABILITY_TOL = 1e-6  # largest real part (units of 1/τ) still taken as the conserved zero mode


def default_rtol(sigma: float) -> float:
    """The integrator's default relative tolerance for a Néel particle of barrier σ.

    It keeps max|Δ⟨m⟩| ≤ 1e-4 over the cycle (measured, see the docs' solver page). With an
    anisotropy barrier the moment switches between wells; errors grow while it leaves a well, so
    the global error per unit of local tolerance rises with σ (measured: ~0.5 at σ = 1.5, ~3 at
    σ = 4.8, ~8 at σ = 8, ~14 at σ = 11.4).

    Parameters
    ----------
    sigma : float
        Reduced anisotropy barrier σ = KV/(k_B T) (:attr:`mpisweep.Particle.sigma`).

    Returns
    -------
    float
        rtol between 1e-6 and 1e-4: 1e-4 up to σ = 1.5, then 1e-4·(σ/1.5)^−2.2.
    """
    return float(min(1e-4, max(1e-6, 1e-4 * (max(sigma, 1.5) / 1.5) ** -2.2)))


#: the Brownian model's default rtol: at 1e-4 the total error reached 1.3e-4-1.9e-4 in 2 of 18
#: measured drives; at 1e-5 it stays ≤ 9.7e-6 for 1.3-1.45× the cost (docs' Brownian page)
BROWN_RTOL = 1e-5


def particle_rtol(particle: AnyParticle) -> float:
    """The default relative tolerance of one particle: :func:`default_rtol` of its σ (Néel) or BROWN_RTOL."""
    return BROWN_RTOL if isinstance(particle, BrownParticle) else default_rtol(particle.sigma)


SQRT_RULE_MAX_SIGMA = 11.4  # the √σ branch is measured up to here; beyond it the linear one
#: Brownian rotation: L = ⌈3.5·√ξ − 0.6⌉, the smallest such rule (a, b to 0.1) with max|Δ<m>| ≤ 1e-5 at its L up to
#: L = 60 (benchmarks/brown.py; docs' Brownian page). The static Langevin density exp(ξ h·m), the sharpest case,
#: sets it; 18 drives (D 14-28 nm, D_h to 100 nm, Bruker grid and 1D) need the same L or up to 7 less.
BROWN_DEGREE_SLOPE = 3.5
BROWN_DEGREE_OFFSET = 0.6
#: warm-up of at least this many relaxation times τ (τ_B of a fluid tracer can exceed the cycle: with
#: 4 τ_B, D_h = 150-200 nm stayed 1e-3 from periodic after 6 cycles; with 12 τ_B ≤ 1.8e-5)
WARMUP_TAUS = 12.0


def auto_degree(particle: AnyParticle, max_field: float) -> int:
    """The truncation degree L of the spherical-harmonic expansion, for ≲ 1e-5 in ⟨m⟩.

    Parameters
    ----------
    particle : Particle or BrownParticle
        The particle (its σ and β).
    max_field : float
        The largest field magnitude |B| along the trajectory, in T
        (:meth:`mpisweep.Excitation.max_field`); ξ = β·|B|.

    Returns
    -------
    int
        L ≥ 4. A Brownian particle gets L = ⌈3.5·√ξ − 0.6⌉ (no anisotropy).

    Notes
    -----
    The density's peaks have angular widths ~ 1/√ξ (field) and ~ 1/√σ (anisotropy
    wells), so L grows with √ξ and √σ: L = ⌈max(3.4·√ξ − 1, 7.5·√σ − 0.5)⌉, with
    the anisotropy branch switching to 1.2·σ + 11 above σ = 11.4 (where both agree
    and where the √σ fit has not been measured). Fitted to truncation errors
    against L + 5 or more at rtol 1e-8 over 36 cases (D 14-28 nm, K 100-5000 J/m³,
    offsets across the Bruker grid): at this L the largest error is 1.0e-5
    (ξ = 24.9, L = 16), most are 1e-6 to 8e-6 (table in the docs' solver page).
    """
    xi = particle.beta * max_field
    if isinstance(particle, BrownParticle):
        return max(MIN_DEGREE, int(math.ceil(BROWN_DEGREE_SLOPE * math.sqrt(xi) - BROWN_DEGREE_OFFSET)))
    sigma = particle.sigma
    field_branch = 3.4 * math.sqrt(xi) - 1.0
    if sigma <= SQRT_RULE_MAX_SIGMA:
        anisotropy_branch = 7.5 * math.sqrt(sigma) - 0.5
    else:
        anisotropy_branch = 1.2 * sigma + 11.0
    return max(MIN_DEGREE, int(math.ceil(max(field_branch, anisotropy_branch))))


#: truncation error at the automatic degree (largest measured, docs' solver table) and its growth per
#: degree below it (median of the measured ratios error(L - 1) / error(L): 2.6-14, median ~4)
TRUNCATION_AT_AUTO = 1e-5
TRUNCATION_GROWTH = 4.0
#: the accuracy budget of a dictionary row's <m> (truncation plus time integration)
ACCURACY_BUDGET = 1e-4

#: The largest truncation degree a solve takes unless told otherwise: a solve costs ~L³, the paper
#: grid needs at most 42, and a 3000 mT offset would need 150 at 22 nm. The sweep's ``solver.max_degree``
#: has the same default (a test checks it).
MAX_DEGREE = 60


def limit_degree(degree: int, max_degree: int | None, what: str) -> None:
    """Raise DegreeError when `degree` exceeds `max_degree` (None: no limit), naming `what`."""
    if max_degree is not None and degree > max_degree:
        raise DegreeError(f"truncation degree L = {degree} for {what} is above max_degree = {max_degree} "
                          "(a solve costs ~L³; the paper grid needs at most 42): weaken the fields, "
                          "or raise max_degree")


def truncation_estimate(degree: int, automatic: int) -> float:
    """Estimated max |Δ<m>| from truncating at `degree` instead of the automatic degree (≤ 1e-5 there).

    Capped at 1: beyond that the estimate only says "no accuracy left" (|<m>| ≤ 1).
    """
    return min(1.0, TRUNCATION_AT_AUTO * TRUNCATION_GROWTH ** max(0, automatic - int(degree)))


@dataclass
class SolveResult:
    """One drive cycle of the mean moment, as :func:`mpisweep.solve` returns it.

    Attributes
    ----------
    times : numpy.ndarray
        (N,) sample times t_k = k·T/N of the cycle, in s (N = ``excitation.samples``).
    moment : numpy.ndarray
        (N, 3) mean moment ⟨m⟩ in the lab frame, normalised (|⟨m⟩| ≤ 1).
    rate : numpy.ndarray
        (N, 3) d⟨m⟩/dt in the lab frame, in 1/s; :func:`mpisweep.spectrum` turns it into the
        system-matrix row φ_k.
    degree : int
        Truncation degree L used (0 for the static models).
    periodicity : float
        How far the cycle is from periodic steady state, in ⟨m⟩: the end-to-start difference
        max_k |⟨m_k⟩(T) − ⟨m_k⟩(0)|, divided by 1 − ρ (ρ the contraction per cycle) for ``auto``
        (equal to the plain difference where ρ < 1e-17) and ``shooting``; for ``harmonic`` the
        bound on the truncated harmonics.
    cycles : int
        Drive cycles integrated after the warm-up (shooting: full and homogeneous cycles together;
        0 for ``harmonic``).
    wall_time : float
        Wall-clock time of the solve, in s.
    stats : dict
        Integrator counts: ``steps``, ``rejected``, ``factorizations``, ``solves`` (empty for the
        static models); the slow methods add ``krylov`` (GMRES iterations) and ``newton`` and
        ``measured_contraction`` (shooting: ρ from GMRES's Ritz values) or ``harmonics`` and
        ``order`` (harmonic balance).
    method : str
        The method that produced the cycle: ``relax``, ``shooting`` or ``harmonic`` (see
        :func:`mpisweep.solve`); ``static`` for the equilibrium models.
    contraction : float
        ρ, the per-cycle contraction of the cycle map the periodicity test used (0: not estimated).
    """

    times: np.ndarray  # (N,) s
    moment: np.ndarray  # (N, 3) <m>, lab frame, |<m>| ≤ 1
    rate: np.ndarray  # (N, 3) d<m>/dt in 1/s, lab frame
    degree: int
    periodicity: float  # distance to the periodic state in <m> (see above)
    cycles: int
    wall_time: float
    stats: dict = field(default_factory=dict)
    method: str = "relax"
    contraction: float = 0.0


@dataclass(frozen=True)
class _System:
    """A(t) in banded order: CSR pattern, values per term, band positions, observables.

    Index arrays are unsigned: numba then skips its negative-index wraparound, which
    otherwise halves the speed of the sparse matvec.
    """

    perm: np.ndarray
    bandwidth: int
    indptr: np.ndarray
    indices: np.ndarray
    vals: np.ndarray  # (Q, nnz)
    band_col: np.ndarray
    band_row: np.ndarray
    envelope: np.ndarray  # (3, n): the LU's envelope (banded.band_envelope)
    obs_idx: np.ndarray  # the coefficients that carry <m> (degree 1)
    w_moment: np.ndarray  # (3, S): <m> = w_moment @ c[obs_idx]


def _assemble(op: Operator, terms_local: list[np.ndarray]) -> _System:
    """Terms C_q = Σ_k field_q[k]·A_k (+A0 for q = 0) on one shared pattern, band-ordered."""
    mats = []
    for q, fld in enumerate(terms_local):
        mat = op.a0.copy() if q == 0 else sp.csr_matrix(op.a0.shape)
        for k in range(3):
            if fld[k] != 0.0:
                mat = mat + fld[k] * op.a[k]
        mats.append(sp.csr_matrix(mat))
    pattern = sum(abs(m) for m in mats) + sp.identity(op.size)
    perm = degree_ordering(op.degree)
    pattern = sp.csr_matrix(pattern[perm][:, perm])
    pattern.sort_indices()
    coo = pattern.tocoo()
    bw = int(np.max(np.abs(coo.row - coo.col)))
    # Values of every term on the shared pattern, located by sorted (row, col) keys.
    n = op.size
    rows = np.repeat(np.arange(n), np.diff(pattern.indptr))
    keys = rows * n + pattern.indices
    vals = np.zeros((len(mats), pattern.nnz))
    for q, mat in enumerate(mats):
        coo = sp.coo_matrix(mat[perm][:, perm])
        vals[q, np.searchsorted(keys, coo.row * n + coo.col)] = coo.data
    cols = pattern.indices
    kv = 2 * bw
    band_col = cols.astype(np.uint64)
    band_row = (kv + rows - cols).astype(np.uint64)

    w = op.geometry.moment[:, perm]
    used = np.flatnonzero((np.abs(w) > 0).any(axis=0))
    return _System(
        perm=perm,
        bandwidth=bw,
        indptr=pattern.indptr.astype(np.uint64),
        indices=pattern.indices.astype(np.uint64),
        vals=vals,
        band_col=band_col,
        band_row=band_row,
        envelope=band_envelope(n, bw, bw, pattern.indptr, pattern.indices),
        obs_idx=used.astype(np.uint64),
        w_moment=np.ascontiguousarray(w[:, used]),
    )


def check_stability(op: Operator, fields_local) -> float:
    """Largest real part of the spectrum of A(B') over the given fields, in units of 1/τ.

    The conserved density gives one zero eigenvalue; anything clearly positive
    means the truncation degree is too small for this particle and field.
    """
    worst = -np.inf
    for fld in fields_local:
        ev = np.linalg.eigvals(op.at(fld).toarray() * op.particle.tau)
        worst = max(worst, float(np.max(ev.real)))
    return worst


def require_stable(op: Operator, fields_local, what: str, advice: str) -> None:
    """Raise SolverError naming `what` if A(B') has an eigenvalue with positive real part."""
    worst = check_stability(op, fields_local)
    if worst > STABILITY_TOL:
        raise SolverError(
            f"unstable truncation: the operator has an eigenvalue with real part "
            f"{worst:.3g}/τ > 0 for {what}; {advice}"
        )


def _describe(particle: AnyParticle, easy_axis, excitation: Excitation, degree: int) -> str:
    n = np.round(np.asarray(easy_axis, dtype=float), 4).tolist()
    off = [round(o * 1e3, 4) for o in excitation.offset]
    return f"{particle.describe()}, easy axis {n}, offset {off} mT, degree L={degree}"


def periodicity_tolerance(amplitude: float) -> float:
    """The distance to the periodic state a cycle may keep: min(1e-5, 1e-4·max|<m>|) in <m>."""
    return min(PERIODICITY_TOL, PERIODICITY_REL * float(amplitude))


def _drive_numbers(excitation: Excitation) -> tuple[list[int], list[int]]:
    """The active channels and n_q, each one's drive periods per cycle (integers: T is their lcm)."""
    active = list(excitation.active)
    cycle = excitation.cycle_samples
    return active, [cycle // excitation.dividers[q] for q in active]


def solve(
    particle: AnyParticle,
    excitation: Excitation,
    easy_axis,
    degree: int | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    warmup: float | None = None,
    check: bool = True,
    max_degree: int | None = MAX_DEGREE,
    method: str = "auto",
    slow_degree: bool | None = None,
) -> SolveResult:
    """<m>(t) and d<m>/dt over one drive cycle in periodic steady state.

    `particle` is a :class:`Particle` (Néel rotation, easy axis `easy_axis`) or a
    :class:`BrownParticle` (Brownian rotation; no easy axis, `easy_axis` only fixes the frame).
    `degree` defaults to :func:`auto_degree`; a degree above `max_degree` (None: no limit) is
    refused with :class:`~mpisweep.errors.DegreeError` before any work. `warmup` (s) defaults to
    max(40 µs, 12 τ) (WARMUP_TAUS). `atol` defaults to rtol·1e-2, scaled down by L(β·max|B|)/0.1
    where that is below 1 (weak responses; RESPONSE_FLOOR) except for method "relax".

    `method` says how the periodic state is found (the sweep and ``mpisweep moment`` use "auto"):

    * ``"auto"``: ρ, the contraction per cycle, is predicted first
      (:func:`~mpisweep.physics.periodic.predicted_contraction`: e^(−T/τ_B) for Brownian rotation,
      the slowest relaxation rates of A(B) along the cycle for Néel rotation). Where ρ ≤ e^(−1)
      (τ ≤ T: every particle of the Bruker paper grid and of the shipped configs) ``relax`` runs,
      and further cycles run until the distance |<m>(T) − <m>(0)|/(1 − ρ) is within
      :func:`periodicity_tolerance` (min(1e-5, 1e-4·max|<m>|)). Where ρ < 1e-17 and max|<m>| ≥ 0.1
      this is the raw end-to-start test, bit for bit, so those results are exactly ``relax``'s. A
      cycle still too far after MAX_CYCLES is handed to shooting. Where ρ > e^(−1), Brownian
      rotation runs ``harmonic`` (falling back to shooting if it does not converge), Néel rotation
      ``shooting``.
    * ``"relax"``: the relaxation alone, with the raw test |<m>(T) − <m>(0)| ≤ 1e-5 (for
      comparison: wrong where τ ≫ T, where that test passes cycles far from periodic).
    * ``"shooting"``: Newton-Krylov on the cycle map from the state after a warm-up of at most
      40 µs, integrated at rtol·1e-3 (SHOOTING_RTOL_FACTOR), until the contraction-aware distance
      is within a tenth of :func:`periodicity_tolerance`; its cost hardly grows with τ (one slow
      mode: ~2 GMRES iterations per Newton step). Chosen by "auto" for a Néel particle with the
      automatic degree (or with `slow_degree` True), it runs at that degree + SLOW_DEGREE_EXTRA (the slow
      hopping balance needs it); `slow_degree` defaults to "`degree` is None".
    * ``"harmonic"``: harmonic balance in the frequency domain (no time steps, so nothing
      accumulates over the ~τ/T cycles of relaxation); shooting where it does not converge.
    """
    start = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method: unknown method {method!r} (choose {', '.join(METHODS)})")
    if rtol is None:
        rtol = particle_rtol(particle)
    if not (0 < rtol < 1):
        raise ValueError(f"rtol: must be in (0, 1), got {rtol}")
    if warmup is None:
        warmup = max(DEFAULT_WARMUP, WARMUP_TAUS * particle.tau)
    if not warmup > 0:
        raise ValueError(f"warmup: must be > 0 s, got {warmup}")
    if atol is None:
        atol = rtol * 1e-2
        if method != "relax":
            atol *= min(1.0, float(langevin(particle.beta * excitation.max_field())) / RESPONSE_FLOOR)
    rot = rotation_to_easy_axis(easy_axis)
    if slow_degree is None:
        slow_degree = degree is None
    if degree is None:
        degree = auto_degree(particle, excitation.max_field())
    if degree < 1:
        raise ValueError(f"degree: must be ≥ 1, got {degree}")
    limit_degree(int(degree), max_degree,
                 f"{particle.describe()}, strongest field {excitation.max_field() * 1e3:.4g} mT")
    what = _describe(particle, easy_axis, excitation, degree)
    op = build_operator(particle, int(degree))

    offset_local = rot @ np.asarray(excitation.offset)
    drive_local = excitation.drive_vectors @ rot.T  # (channels, 3)
    system = _assemble(op, [offset_local, *drive_local])
    atol_vec = np.full(op.size, atol)
    omega = 2 * np.pi * excitation.frequencies
    phase = np.asarray(excitation.phases, dtype=float)

    if check:
        samples = excitation.field(excitation.times) @ rot.T
        strongest = samples[np.argmax(np.linalg.norm(samples, axis=1))]
        require_stable(op, [strongest, np.zeros(3)], what,
                       f"increase --degree (automatic choice: {auto_degree(particle, excitation.max_field())})")

    period = excitation.period
    times = excitation.times
    # Samples t_k = k·T/N for k = 0..N; k = N closes the cycle for the periodicity check.
    grid = np.append(times, period)
    out_m = np.zeros((grid.size, 3))
    out_dm = np.zeros((grid.size, 3))
    stats = np.zeros(4, dtype=np.int64)
    h0 = min(1e-9, period / 1e3)
    active, numbers = _drive_numbers(excitation)

    def run(y_start, t_start, first, tol=rtol, tol_abs=atol_vec, collect=True):
        samples = grid[first:] if collect else grid[:0]
        status, y_end = integrator.integrate(
            y_start, t_start, period, h0, samples,
            system.indptr, system.indices, system.vals, system.band_col, system.band_row,
            system.bandwidth, system.bandwidth, system.envelope, omega, phase, tol, tol_abs,
            integrator.max_stable_order(particle.p[0] / particle.p[1]),
            system.obs_idx, system.w_moment, out_m[first:first + samples.size], out_dm[first:first + samples.size],
            stats,
        )
        if status != integrator.OK:
            raise SolverError(f"solve failed: {integrator.STATUS_TEXT[status]} for {what}")
        return y_end

    def fields_local(t):
        return excitation.field(t) @ rot.T

    contraction = 0.0
    chosen = method
    if method != "relax":
        contraction = predicted_contraction(particle, int(degree), fields_local, period, max(numbers))
    if method == "auto":
        if contraction <= RELAX_CONTRACTION:
            chosen = "relax"
        else:
            chosen = "harmonic" if isinstance(particle, BrownParticle) else "shooting"

    extra: dict = {}
    cycles = 0
    state = None  # where shooting starts (None: after a short warm-up)
    if chosen == "relax":
        def periodic_enough(res):
            if method == "relax":
                return res <= PERIODICITY_TOL
            amplitude = float(np.max(np.abs(out_m[:-1])))
            return res / (1.0 - contraction) <= periodicity_tolerance(amplitude)

        t0 = -warmup
        y = op.equilibrium_state(excitation.field(t0) @ rot.T)[system.perm]
        # Warm-up and the first cycle in one integration: t = 0 is an interpolated sample.
        y = run(y, t0, 0)
        residual = float(np.max(np.abs(out_m[-1] - out_m[0])))
        cycles = 1
        while not periodic_enough(residual) and cycles < MAX_CYCLES:
            # Another cycle from the state at T (= the state at 0 of the next cycle).
            out_m[0], out_dm[0] = out_m[-1], out_dm[-1]
            y = run(y, 0.0, 1)
            residual = float(np.max(np.abs(out_m[-1] - out_m[0])))
            cycles += 1
        periodicity = residual if method == "relax" else residual / (1.0 - contraction)
        if method == "auto" and not periodic_enough(residual):
            chosen, state = "shooting", y

    if chosen == "harmonic":
        terms = [sp.csr_matrix((system.vals[q], system.indices.astype(np.int64), system.indptr.astype(np.int64)),
                               shape=(op.size, op.size)) for q in [0] + [a + 1 for a in active]]
        coarse = np.arange(64 * max(numbers)) * (period / (64 * max(numbers)))

        def harmonic_tolerance(res):
            amplitude = float(np.max(np.abs(harmonic.evaluate(res, system.w_moment, system.obs_idx, period,
                                                               coarse)[0])))
            return SLOW_TOL_FRACTION * periodicity_tolerance(amplitude)

        i0 = int(np.flatnonzero(system.perm == 0)[0])
        try:
            balance = harmonic.periodic_harmonics(terms, numbers, phase[active], period, system.bandwidth, i0,
                                                  1.0 / op.geometry.norm[0], harmonic_tolerance)
        except np.linalg.LinAlgError:
            balance = None
        if balance is not None and balance.converged:
            m_local, dm_local = harmonic.evaluate(balance, system.w_moment, system.obs_idx, period, times)
            out_m[:-1], out_dm[:-1] = m_local, dm_local
            periodicity = balance.tail
            extra = {"krylov": balance.iterations, "harmonics": int(balance.ks.size), "order": balance.order}
        else:
            chosen = "shooting"
            if balance is not None and balance.residual <= 1e-6:
                state = harmonic.state_at_zero(balance)

    if chosen == "shooting":
        if method == "auto" and slow_degree and not isinstance(particle, BrownParticle) and state is None:
            degree = int(degree) + SLOW_DEGREE_EXTRA
            if max_degree is not None:
                degree = min(degree, max(int(max_degree), degree - SLOW_DEGREE_EXTRA))
            what = _describe(particle, easy_axis, excitation, degree)
            op = build_operator(particle, degree)
            system = _assemble(op, [offset_local, *drive_local])
            atol_vec = np.full(op.size, atol)
        rtol_s = rtol * SHOOTING_RTOL_FACTOR
        atol_s = atol_vec * SHOOTING_RTOL_FACTOR
        if state is None:
            t0 = -min(warmup, DEFAULT_WARMUP)
            state = op.equilibrium_state(excitation.field(t0) @ rot.T)[system.perm]
            state = run(state, t0, 0, rtol_s, atol_s, collect=False)

        def cycle(c, output):
            if not output:
                return run(c, 0.0, 0, rtol_s, atol_s, collect=False)
            end = run(c, 0.0, 1, rtol_s, atol_s)
            out_m[0] = system.w_moment @ c[system.obs_idx]
            out_dm[0] = out_dm[-1]  # the cycle is periodic: the rate at T from the method's own interpolant
            return end

        def shooting_tolerance():
            return SLOW_TOL_FRACTION * periodicity_tolerance(float(np.max(np.abs(out_m[:-1]))))

        zero_index = int(np.flatnonzero(system.perm == 0)[0])
        shot = shoot(cycle, state, zero_index, shooting_tolerance, contraction)
        periodicity, contraction = shot.distance, shot.contraction
        if not shot.converged:
            warnings.warn(f"solve: the cycle is {shot.distance:.1e} from the periodic state (tolerance "
                          f"{shot.tolerance:.1e}) after {shot.newton} Newton steps for {what}; "
                          "a tighter rtol or a higher degree may help", RuntimeWarning, stacklevel=2)
        cycles += shot.cycles
        extra = {"krylov": shot.krylov, "newton": shot.newton, "measured_contraction": shot.measured}

    m_lab = out_m[:-1] @ rot
    dm_lab = out_dm[:-1] @ rot
    if not np.all(np.isfinite(m_lab)) or np.max(np.linalg.norm(m_lab, axis=1)) > integrator.BLOWUP:
        raise SolverError(f"solve failed: |<m>| exceeded 1 + 1e-6 for {what}")
    return SolveResult(
        times=times,
        moment=m_lab,
        rate=dm_lab,
        degree=int(degree),
        periodicity=periodicity,
        cycles=cycles,
        wall_time=time.perf_counter() - start,
        stats={**dict(zip(("steps", "rejected", "factorizations", "solves"), stats.tolist())), **extra},
        method=chosen,
        contraction=float(contraction),
    )
