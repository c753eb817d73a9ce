"""Parse and cross-check the metadata, flags and data layout of an MDF v2 system-matrix file.

MDF dimensions are row major (first = slowest), i.e. the order h5py shows. /measurement/data is
(N, J, C, X) with the frame axis slow, or (J, C, X, N) with the frame axis fast, where X is the
number of time samples V (time domain) or of stored frequency bins K (frequency domain). The
frame-axis flag is /measurement/isFastFrameAxis (v2.1) or its older names isTransposed /
isPermuted; 1 means the frame axis N is last. The real v2.0 test file (isTransposed = 0, shape
(9, 1, 1, 152)) confirms the slow layout. The flag is checked against the shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._hdf import MDFError, Reader

DATA = "/measurement/data"
FRAME_AXIS_FLAGS = ("/measurement/isFastFrameAxis", "/measurement/isTransposed", "/measurement/isPermuted")
PERIOD_COUNTS = ("/acquisition/numPeriodsPerFrame", "/acquisition/numPeriods", "/acquisition/numPatches")
TRANSFER_FUNCTION = "/acquisition/receiver/transferFunction"
SNR = "/calibration/snr"


@dataclass
class Layout:
    """Everything about an MDF system-matrix file except the bulk data (cheap to obtain)."""

    name: str
    version: str
    method: str
    base_frequency: float
    dividers: np.ndarray  # (D, F) int
    strength: np.ndarray  # (J or 1, D, F) T
    phase: np.ndarray  # (J or 1, D, F) rad
    waveform: np.ndarray  # (D, F) str
    cycle: float  # s
    num_channels: int  # C
    num_sampling_points: int  # V
    bandwidth: float  # Hz
    unit: str
    num_averages: int
    conversion: np.ndarray | None  # (C, 2): physical = a * raw + b
    fourier: bool
    fast_axis: bool
    fast_axis_key: str  # flag dataset that decided it, or "(shape)" when none exists
    pair_axis: bool  # complex stored as a trailing (re, im) axis of length 2
    num_periods: int  # J
    num_frames: int  # N (foreground + background)
    bins: np.ndarray  # stored frequency bins k (0-based, f = k / cycle); all rfft bins for time data
    frequency_selection: bool
    background_mask: np.ndarray  # (N,) bool, stored order
    background_corrected: bool
    transfer_function_corrected: bool
    frame_permutation: bool
    acquisition: np.ndarray  # (N,) 0-based acquisition index of each stored frame
    size: np.ndarray | None = None  # (3,) grid size (Nx, Ny, Nz)
    order: str | None = None
    offset_fields: np.ndarray | None = None  # (O, 3) T
    positions: np.ndarray | None = None  # (O, 3) m
    has_transfer_function: bool = False
    has_snr: bool = False
    data_dtype: str = ""
    data_shape: tuple = field(default_factory=tuple)

    @property
    def num_background(self) -> int:
        return int(self.background_mask.sum())

    @property
    def num_offsets(self) -> int:
        return self.num_frames - self.num_background

    @property
    def num_rfft_bins(self) -> int:
        return self.num_sampling_points // 2 + 1

    @property
    def drive_frequencies(self) -> np.ndarray:
        return self.base_frequency / self.dividers


def parse_layout(r: Reader, calibration: bool = True) -> Layout:
    """Read and validate all metadata of the open file behind `r` (a measurement file when not `calibration`)."""
    version = r.string("/version")
    if not version.startswith("2"):
        raise r.error("/version", f"is {version!r}; only MDF v2.x is supported")
    method = r.string("/calibration/method", required=calibration, default="")  # empty: a measurement file
    base = r.scalar("/acquisition/drivefield/baseFrequency", float)
    cycle = r.scalar("/acquisition/drivefield/cycle", float)
    if not (base > 0 and cycle > 0):
        raise r.error("/acquisition/drivefield/cycle", f"and baseFrequency must be positive (got {cycle}, {base})")
    dividers = r.array("/acquisition/drivefield/divider", np.int64)
    dividers = dividers.reshape(-1, 1) if dividers.ndim < 2 else dividers
    if dividers.ndim != 2 or np.any(dividers <= 0):
        raise r.error("/acquisition/drivefield/divider", f"must be positive integers (D, F), got {dividers.tolist()}")
    strength = _per_period(r, "/acquisition/drivefield/strength", dividers.shape, required=True)
    phase = _per_period(r, "/acquisition/drivefield/phase", dividers.shape, required=False)
    wave = r.strings("/acquisition/drivefield/waveform", required=False)
    wave = np.full(dividers.shape, "sine") if wave is None else np.broadcast_to(wave, dividers.shape).copy()

    C = r.scalar("/acquisition/receiver/numChannels", int)
    V = r.scalar("/acquisition/receiver/numSamplingPoints", int)
    if C < 1 or V < 1:
        raise r.error("/acquisition/receiver/numSamplingPoints", f"and numChannels must be positive (got {V}, {C})")
    L = V // 2 + 1
    conversion = r.array("/acquisition/receiver/dataConversionFactor", float, ndim=2, required=False)
    if conversion is not None and conversion.shape != (C, 2):
        raise r.error("/acquisition/receiver/dataConversionFactor",
                      f"has shape {conversion.shape}, expected (C, 2) = ({C}, 2)")

    fourier = r.flag("/measurement/isFourierTransformed")
    if r.flag("/measurement/isSparsityTransformed", required=False, default=False):
        raise r.error("/measurement/isSparsityTransformed", "is set: compressed system matrices are not supported")
    selection = r.flag("/measurement/isFrequencySelection", required=False, default=False)
    if selection and not fourier:
        raise r.error("/measurement/isFrequencySelection",
                      "is set but isFourierTransformed is 0 (time-domain data has no frequency selection)")
    if selection:
        bins = r.array("/measurement/frequencySelection", np.int64, ndim=1) - 1
        if bins.size == 0 or bins.min() < 0 or bins.max() >= L or np.unique(bins).size != bins.size:
            raise r.error("/measurement/frequencySelection", f"must hold distinct 1-based indices in 1..{L} (V/2+1)")
    else:
        bins = np.arange(L)

    if DATA not in r.h:
        raise r.error(DATA, "is missing (required by MDF v2)")
    dset = r.h[DATA]
    shape, dtype = tuple(dset.shape), dset.dtype
    is_complex = dtype.kind == "c" or bool(dtype.names)
    pair = fourier and not is_complex and len(shape) == 5 and shape[-1] == 2
    if pair:
        shape = shape[:-1]
    if fourier and not (is_complex or pair):
        raise r.error(DATA, f"has real dtype {dtype} but isFourierTransformed is 1 "
                            "(expected a complex compound {r, i})")
    if not fourier and is_complex:
        raise r.error(DATA, "is complex but isFourierTransformed is 0 (time-domain data must be real)")
    if len(shape) != 4:
        x = "K" if fourier else "V"
        raise r.error(DATA, f"has shape {tuple(dset.shape)}; expected 4 dimensions (N, J, C, {x}) or (J, C, {x}, N)")

    X = bins.size if fourier else V
    mask = r.array("/measurement/isBackgroundFrame", np.int64, ndim=1, required=False)
    N = None if mask is None else mask.size
    J = next((r.scalar(k, int) for k in PERIOD_COUNTS if r.has(k)), None)
    fast, fast_key = _frame_axis(r, shape, N, J, C, X, "K" if fourier else "V", selection)
    N = shape[-1] if fast else shape[0]
    J = shape[0] if fast else shape[1]

    if mask is None:
        mask = np.zeros(N, dtype=np.int64)
    if not np.isin(mask, (0, 1)).all():
        raise r.error("/measurement/isBackgroundFrame", "must contain only 0 and 1")
    mask = mask.astype(bool)
    if mask.all():
        raise r.error("/measurement/isBackgroundFrame", "marks every frame as background; no calibration frames remain")

    permuted = r.flag("/measurement/isFramePermutation", required=False, default=False)
    acquisition = np.arange(N)
    if permuted:
        perm = r.array("/measurement/framePermutation", np.int64, ndim=1)
        if perm.size != N or not np.array_equal(np.sort(perm), np.arange(1, N + 1)):
            raise r.error("/measurement/framePermutation",
                          f"must be a permutation of 1..{N} (N frames), got {perm.size} entries")
        acquisition = perm - 1
    if strength.shape[0] not in (1, J):
        raise r.error("/acquisition/drivefield/strength", f"has {strength.shape[0]} periods, data has J = {J}")

    O = N - int(mask.sum())
    size = r.array("/calibration/size", np.int64, ndim=1, required=False)
    if size is not None and (size.size != 3 or np.any(size < 1)):
        raise r.error("/calibration/size", f"must be 3 positive integers (Nx, Ny, Nz), got {size.tolist()}")
    offsets = _per_offset(r, "/calibration/offsetFields", O)
    positions = _per_offset(r, "/calibration/positions", O)

    bandwidth = r.scalar("/acquisition/receiver/bandwidth", float, required=False, default=V / (2 * cycle))
    return Layout(
        name=r.name, version=version, method=method, base_frequency=base, dividers=dividers,
        strength=strength, phase=np.zeros_like(strength) if phase is None else phase, waveform=wave,
        cycle=cycle, num_channels=C, num_sampling_points=V, bandwidth=bandwidth,
        unit=r.string("/acquisition/receiver/unit", required=False, default="V"),
        num_averages=r.scalar("/acquisition/numAverages", int, required=False, default=1),
        conversion=conversion, fourier=fourier, fast_axis=fast, fast_axis_key=fast_key, pair_axis=pair,
        num_periods=J, num_frames=N, bins=bins, frequency_selection=selection, background_mask=mask,
        background_corrected=r.flag("/measurement/isBackgroundCorrected", required=False, default=False),
        transfer_function_corrected=r.flag("/measurement/isTransferFunctionCorrected", required=False, default=False),
        frame_permutation=permuted, acquisition=acquisition, size=size,
        order=r.string("/calibration/order", required=False), offset_fields=offsets, positions=positions,
        has_transfer_function=r.has(TRANSFER_FUNCTION), has_snr=r.has(SNR),
        data_dtype=str(dtype), data_shape=tuple(dset.shape),
    )


def _per_period(r: Reader, key, df_shape, required):
    """A (J, D, F) drive parameter; scalars and (D, F) arrays are promoted."""
    arr = r.array(key, float, required=required)
    if arr is None:
        return None
    if arr.size == int(np.prod(df_shape)) and arr.ndim < 3:
        arr = arr.reshape((1, *df_shape))
    if arr.ndim != 3 or arr.shape[1:] != tuple(df_shape):
        raise r.error(key, f"has shape {arr.shape}, expected (J, D, F) with (D, F) = {tuple(df_shape)} from divider")
    return arr


def _per_offset(r: Reader, key, O):
    arr = r.array(key, float, required=False)
    if arr is not None and arr.shape != (O, 3):
        raise r.error(key, f"has shape {arr.shape}, expected (O, 3) = ({O}, 3) for {O} calibration frames")
    return arr


def _frame_axis(r: Reader, shape, N, J, C, X, xname, selection=False):
    """Decide the frame-axis order from the flag(s) and check it against the data shape."""
    found = {k: r.flag(k) for k in FRAME_AXIS_FLAGS if r.has(k)}
    if len(set(found.values())) > 1:
        listing = ", ".join(f"{k} = {int(v)}" for k, v in found.items())
        raise MDFError(f"{r.name}: inconsistent frame-axis flags: {listing}")

    def fits(fast, x=X):
        expect = (J, C, x, N) if fast else (N, J, C, x)
        return all(e is None or e == s for e, s in zip(expect, shape))

    def sample_count_mismatch(fast):
        """The shape fits except on the sample/frequency axis: name numSamplingPoints, not the shape."""
        if not fits(fast, None):
            return None
        got = shape[2] if fast else shape[3]
        if xname == "V":
            return MDFError(f"{r.name}: /acquisition/receiver/numSamplingPoints is {X}, but {DATA} holds {got} "
                            "samples per frame; the file is inconsistent (fix numSamplingPoints)")
        if selection:
            return MDFError(f"{r.name}: {DATA} holds {got} frequencies per frame, but /measurement/"
                            f"frequencySelection lists {X}")
        return MDFError(f"{r.name}: {DATA} holds {got} frequencies per frame, but /acquisition/receiver/"
                        f"numSamplingPoints = {2 * X - 2} gives {X} (V/2+1) and no /measurement/frequencySelection "
                        "is set; fix numSamplingPoints or add the frequency selection")

    def describe(fast):
        names = ("J", "C", xname, "N") if fast else ("N", "J", "C", xname)
        vals = (J, C, X, N) if fast else (N, J, C, X)
        return "(" + ", ".join(f"{n}={v}" if v is not None else n for n, v in zip(names, vals)) + ")"

    if found:
        key, fast = next(iter(found.items()))
        if fits(fast):
            return fast, key
        mismatch = sample_count_mismatch(fast)
        if mismatch is not None:
            raise mismatch
        if fits(not fast):
            raise MDFError(
                f"{r.name}: {DATA} has shape {shape}, the layout of {key} = {int(not fast)} {describe(not fast)}, "
                f"but {key} = {int(fast)}"
            )
        raise MDFError(f"{r.name}: {DATA} has shape {shape}, expected {describe(fast)} ({key} = {int(fast)})")
    for fast in (False, True):
        if fits(fast):
            return fast, "(shape)"
    for fast in (False, True):
        mismatch = sample_count_mismatch(fast)
        if mismatch is not None:
            raise mismatch
    raise MDFError(f"{r.name}: {DATA} has shape {shape}, expected {describe(False)} or {describe(True)}")
