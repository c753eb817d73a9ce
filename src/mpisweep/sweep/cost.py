"""Checks that bound a sweep's cost and accuracy before anything is simulated.

The truncation degree L decides both: the cost of one solve grows like L³ (banded LU of
(L+1)² unknowns with half-bandwidth 2L+1), and too small an L loses accuracy. At resolve time
every block's automatic degree is computed at every offset's strongest field (a formula: cheap),
so a config whose fields push L past ``solver.max_degree`` is refused with the numbers, and an
explicit ``solver.degree`` below the automatic choice gets a warning, or an error where its
estimated truncation error exceeds the 1e-4 budget (unless ``solver.force_degree``).

The job plan (:func:`plan_jobs`, :func:`group_jobs`) sizes the simulate jobs for a batch cluster:
an estimated runtime and memory per block from a cost model calibrated on the measured grid
cost, times ``cluster.safety_factor``; blocks planned past ``cluster.max_job_minutes`` are split
into parts of mirror-paired angles, and light jobs are packed into groups within that maximum.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError
from ..io.atomic import write_json
from ..physics.solver import ACCURACY_BUDGET, auto_degree, truncation_estimate


class AccuracyWarning(UserWarning):
    """An explicit setting is less accurate than the automatic one."""


def automatic_degrees(sweep) -> np.ndarray:
    """(blocks, offsets) automatic truncation degrees, blocks in `sweep.blocks` order."""
    fields = [sweep.excitation.with_offset(o).max_field() for o in sweep.offsets.reshape(-1, 3)]
    particles = (sweep.particle(d, k) for _, d, k in sweep.blocks)
    return np.array([[auto_degree(p, b) for b in fields] for p in particles])


def check(sweep) -> None:
    """ConfigError naming the key when the sweep's truncation degree is unaffordable or too inaccurate."""
    auto = automatic_degrees(sweep)
    limit = sweep.limits.max_degree
    where = np.unravel_index(int(np.argmax(auto)), auto.shape)
    name = sweep.blocks[where[0]][0]
    offset_mt = np.round(sweep.offsets.reshape(-1, 3)[where[1], :2] * 1e3, 3).tolist()
    degree = sweep.solver.degree
    if degree is None and auto.max() > limit:
        raise ConfigError(
            f"config key 'solver.max_degree': the automatic truncation degree reaches L = {int(auto.max())} for "
            f"{name} at offset {offset_mt} mT, above the limit {limit} (a solve costs ~L³; the paper grid needs at "
            "most 42): narrow the offsets or the grids, or raise solver.max_degree")
    if degree is None:
        return
    if degree > limit:
        raise ConfigError(f"config key 'solver.degree': {degree} is above solver.max_degree = {limit}")
    if degree >= auto.max():
        return
    worst = truncation_estimate(degree, int(auto.max()))
    message = (f"solver.degree = {degree} is below the automatic degree (up to {int(auto.max())}, for {name} at offset "
               f"{offset_mt} mT): estimated truncation error {worst:.1e}")
    if worst > ACCURACY_BUDGET and not sweep.limits.force_degree:
        raise ConfigError(f"config key 'solver.degree': {message} > {ACCURACY_BUDGET:g}; use 'auto', or set "
                          "solver.force_degree: true to run it anyway")
    warnings.warn(message, AccuracyWarning, stacklevel=2)


# ----------------------------------------------------------------------------- job plan
# What a `simulate` job costs, so that a batch cluster gets each job's runtime and memory up front
# and no job is planned past `cluster.max_job_minutes`. The per-solve model
#
#     t(L, σ, ξ) = T0 + C · L^P · (1 + σ)^S · (1 + ξ)^X   seconds (ξ: the offset's strongest field)
#
# was fitted (least squares in log t) to the 30 cells of the grid-cost table in docs/performance.md
# (benchmarks/grid.py: D 14-28 nm × K 100-9000 J/m³, at the (angle, offset) points it sampled,
# single core, machine shared): model/measured 0.72-1.41. T0 is the fixed cost of a small solve.
# Per degree the spectrum check (three dense eigenvalue problems of (L+1)² unknowns) and the
# operator build add CHECK_S + CHECK_N3 · n³ (measured 13 s at L = 42); every job adds JOB_S for
# the process start, imports, the numba cache and the shard write. Memory: the Python process,
# the Snakemake that runs the job inside its Slurm job, and three dense complex n × n matrices.
T0, C, P, S, X = 0.0244, 7.31e-6, 2.856, 0.209, 0.6
CHECK_S, CHECK_N3 = 0.5, 2.1e-9
JOB_S = 60.0
BASE_MB = 700.0
DENSE_MB_PER_ENTRY = 48e-6  # 3 complex n × n copies, MB per entry


def solve_seconds(degree, sigma: float, xi) -> np.ndarray:
    """Estimated single-core seconds of one solve at truncation degree `degree`, σ and ξ_max."""
    degree = np.asarray(degree, dtype=float)
    return T0 + C * degree**P * (1.0 + sigma) ** S * (1.0 + np.asarray(xi, dtype=float)) ** X


def cycle_factor(sweep) -> float:
    """Solve time relative to the 2D Bruker cycle the constants were fitted on: the drive periods per cycle
    (the 3D Bruker cycle is 33× longer; measured 36–50× per solve, docs/performance.md)."""
    periods = round(sweep.cycle * max(sweep.excitation.frequencies[i] for i in sweep.excitation.active))
    return max(1.0, periods / BRUKER_2D_PERIODS)


BRUKER_2D_PERIODS = 17  # drive periods of the fastest channel per 2D Bruker cycle (dividers 102, 96)


def check_seconds(degree: int) -> float:
    """Estimated seconds of the operator build and the spectrum check at one degree."""
    return CHECK_S + CHECK_N3 * float((degree + 1) ** 2) ** 3


def memory_mb(max_degree: int) -> float:
    """Estimated peak memory (MB) of a simulate job whose largest degree is `max_degree`."""
    return BASE_MB + DENSE_MB_PER_ENTRY * float((max_degree + 1) ** 2) ** 2


def angle_orbits(sweep) -> list[tuple[int, ...]]:
    """Angle indices grouped so that a mirror pair (ϑ, 180° − ϑ) stays together (physics.symmetry).

    Without the mirror symmetry every angle is its own group. A block split along these groups
    solves exactly the rows the whole block would solve and derives the same partners.
    """
    from ..physics.symmetry import mirror_symmetry, partner_table

    n = len(sweep.angles)
    mirror = mirror_symmetry(sweep.excitation)
    if mirror is None:
        return [(a,) for a in range(n)]
    size = sweep.offset_grid.size
    table = partner_table(mirror, sweep.easy_axes, sweep.offsets).reshape(n, -1)
    orbit = list(range(n))
    for a in range(n):
        for b in set((table[a][table[a] >= 0] // size).tolist()):
            orbit[max(a, b)] = orbit[min(a, b)]
    groups: dict[int, list[int]] = {}
    for a in range(n):
        groups.setdefault(orbit[a], []).append(a)
    return [tuple(g) for g in groups.values()]


def axes_per_entry(sweep, sigma: float) -> int:
    """Easy axes solved per offset for one entry of the angle axis: the directions of a random
    distribution's quadrature (grids.easy_axes), else 1."""
    distribution = sweep.distribution
    if distribution is None or distribution.kind != "random":
        return 1
    return distribution.plan(sweep.excitation, sweep.offsets, sigma).groups[0].axes.shape[0]


def solved_points(sweep, degrees: np.ndarray) -> np.ndarray:
    """(angle, *offset grid) mask of the rows simulate_block solves (the others are derived)."""
    from ..physics.symmetry import mirror_symmetry, partner_table, solve_plan

    shape = (len(sweep.angles),) + degrees.shape
    mirror = mirror_symmetry(sweep.excitation)
    if mirror is None:
        return np.ones(shape, dtype=bool)
    source = solve_plan(partner_table(mirror, sweep.easy_axes, sweep.offsets, degrees))
    return (source == np.arange(source.size)).reshape(shape)


def split_angles(orbits, weights, count: int) -> list[tuple[int, ...]]:
    """`orbits` dealt into `count` parts, heaviest first onto the lightest part; sorted angle indices.

    Deterministic: it depends only on the orbits, their weights (solves) and `count`, so a part's
    name (block, index, count) always means the same angles.
    """
    order = sorted(range(len(orbits)), key=lambda i: (-weights[i], orbits[i][0]))
    parts: list[list[int]] = [[] for _ in range(count)]
    loads = [0.0] * count
    for i in order:
        j = min(range(count), key=lambda p: (loads[p], p))
        parts[j].extend(orbits[i])
        loads[j] += weights[i]
    return sorted(tuple(sorted(p)) for p in parts if p)


def part_name(block: str, index: int, count: int) -> str:
    """Shard / marker name of part `index` (1-based) of `count` of a block; the block's own name if whole."""
    return block if count == 1 else f"{block}_part{index}of{count}"


@dataclass(frozen=True)
class Job:
    """One planned simulate job: a block or a part of it (a set of angle indices)."""

    block: str
    diameter_nm: float
    value: float  # the second parameter: K in J/m³ (Néel) or D_h in nm (Brown)
    index: int  # 1-based
    count: int
    angles: tuple[int, ...]  # indices into sweep.angles
    solves: int
    seconds: float  # estimated run time
    memory_mb: float  # estimated peak memory
    runtime_min: int  # planned (safety factor applied, rounded up)
    mem_mb: int  # planned

    @property
    def name(self) -> str:
        return part_name(self.block, self.index, self.count)

    @property
    def part(self) -> str:
        """The simulate-block --part argument: INDEX/COUNT."""
        return f"{self.index}/{self.count}"


def _block_jobs(sweep, name, d, k, degrees, fields, orbits, solved) -> list[Job]:
    particle = sweep.particle(d, k)
    sigma = particle.sigma
    per_point = (solve_seconds(degrees, sigma, particle.beta * fields) * cycle_factor(sweep)
                 * axes_per_entry(sweep, sigma))  # (*offset grid)
    orbit_seconds = [float((solved[list(o)] * per_point).sum()) for o in orbits]
    orbit_solves = [int(solved[list(o)].sum()) for o in orbits]
    fixed = JOB_S + sum(check_seconds(int(L)) for L in np.unique(degrees))
    mem = memory_mb(int(degrees.max()))
    safety, limit = sweep.cluster.safety_factor, sweep.cluster.max_job_minutes
    planned_mem = math.ceil(safety * mem / 100.0) * 100
    for count in range(1, len(orbits) + 1):
        parts = split_angles(orbits, orbit_solves, count)
        jobs = []
        for i, angles in enumerate(parts, start=1):
            members = [j for j, o in enumerate(orbits) if o[0] in angles]
            seconds = fixed + sum(orbit_seconds[j] for j in members)
            jobs.append(Job(name, float(d), float(k), i, len(parts), angles, sum(orbit_solves[j] for j in members),
                            seconds, mem, math.ceil(safety * seconds / 60.0), planned_mem))
        if max(j.runtime_min for j in jobs) <= limit:
            return jobs
    raise ConfigError(
        f"config key 'cluster.max_job_minutes': block {name} needs {max(j.runtime_min for j in jobs)} min even split "
        f"into {len(jobs)} jobs of mirror-paired angles (safety factor {safety:g}), above the limit {limit}: raise it")


def plan_jobs(sweep) -> list[Job]:
    """Every simulate job of the sweep, blocks in `sweep.blocks` order, parts in index order.

    A block is split into the fewest parts (groups of mirror-paired angles) that keep every
    part's planned runtime within `cluster.max_job_minutes`; blocks that fit stay whole.
    """
    degrees = automatic_degrees(sweep) if sweep.solver.degree is None else None
    fields = np.array([sweep.excitation.with_offset(o).max_field()
                       for o in sweep.offsets.reshape(-1, 3)]).reshape(sweep.offset_grid.shape)
    orbits = angle_orbits(sweep)
    solved = {}  # degree pattern → solved_points (blocks share few patterns)
    jobs = []
    for b, (name, d, k) in enumerate(sweep.blocks):
        deg = (np.full(fields.shape, int(sweep.solver.degree)) if degrees is None
               else degrees[b].reshape(fields.shape))
        key = deg.tobytes()
        if key not in solved:
            solved[key] = solved_points(sweep, deg)
        jobs.extend(_block_jobs(sweep, name, d, k, deg, fields, orbits, solved[key]))
    return jobs


def prepare_run(sweep, jobs) -> None:
    """What every job of a workflow run reads, written once before the jobs start (the workflow's
    ``onstart``): the resolved config and the job plan, each beside the other under the config's hash
    and never rewritten."""
    if not sweep.layout.resolved_config(sweep.config_hash).exists():
        sweep.write(sweep.layout.resolved_config(sweep.config_hash))
    if not sweep.layout.job_plan(sweep.config_hash).exists():
        _write_plan(sweep, jobs)


def job_plan(sweep) -> list[Job]:
    """:func:`plan_jobs`, planned once per resolved config and kept beside it (layout.job_plan): every
    step that needs a block's parts reads the plan instead of re-planning the whole grid."""
    path = sweep.layout.job_plan(sweep.config_hash)
    if path.is_file():
        try:
            return [Job(**{**j, "angles": tuple(j["angles"])}) for j in json.loads(path.read_text())]
        except (ValueError, TypeError, KeyError):
            pass  # unreadable: plan again and replace it
    jobs = plan_jobs(sweep)
    _write_plan(sweep, jobs)
    return jobs


def _write_plan(sweep, jobs) -> None:
    write_json(sweep.layout.job_plan(sweep.config_hash), [asdict(j) for j in jobs])


def group_jobs(jobs, max_minutes: int, first=()) -> dict[str, str]:
    """Job name → group id: first-fit decreasing packing of planned runtimes into `max_minutes`.

    A grouped Slurm job runs its members one after another, so its runtime is their sum and
    stays within `max_minutes`. Jobs named in `first` (e.g. those not yet done) are packed
    before the others, so a resumed sweep fills its groups with the work that is left.
    """
    first = set(first)
    order = sorted(jobs, key=lambda j: (j.name not in first, -j.runtime_min, j.name))
    bins: list[int] = []
    group = {}
    start = 0  # bins of the `first` jobs are not reused by the others
    for i, job in enumerate(order):
        if i and (order[i - 1].name in first) != (job.name in first):
            start = len(bins)
        fit = next((b for b in range(start, len(bins)) if bins[b] + job.runtime_min <= max_minutes), None)
        if fit is None:
            bins.append(0)
            fit = len(bins) - 1
        bins[fit] += job.runtime_min
        group[job.name] = f"simulate{fit:04d}"
    return group
