"""Model fits M0, M1, M2 of Albers et al. 2022 (paper §2.2, eqs. 7–18; error measure §2.3), and two
models beyond the paper: M0a (anisotropic equilibrium, fitted like M1) and M3 (one transfer function
per channel and frequency shared by all entries and angles, fitted jointly with the weights).

Data layout (fixed; numpy arrays or xarray DataArrays with these dimension names):

* ``measured``      (angle, channel, frequency, offset)                       complex
* ``dictionary``    (diameter, anisotropy, angle, channel, frequency, offset) complex  (M0a, M1, M2, M3)
* ``dictionary_m0`` (diameter, channel, frequency, offset)                    complex  (M0)

``offset`` is the flattened offset grid (N = ny·nx); its order, the angle order and the
channel order must agree between the measured data and the dictionary (only their lengths
are checked: coordinate units may legitimately differ, e.g. T vs mT or rad vs degree).
DataArrays may have their dimensions in any order; they are transposed by name.

Evaluation frequencies: ``bins`` is an integer array of 0-based rfft bin indices, or the
(mx, my, k) rows returned by :func:`mpisweep.physics.spectra.mixing_bins` (then mx, my are kept for
the tables). Selection rule, applied to each input separately:

* DataArray with an *integer* ``frequency`` coordinate: the bins are looked up by label
  (so a dictionary stored only at the evaluation bins works);
* anything else: the bins are positions along the frequency axis (full rfft layout).

All fits use the closed-form transfer function of :func:`mpisweep.fitting.metrics.transfer_function`
and the error measures of :mod:`mpisweep.fitting.metrics`. Dictionary entries containing NaN/inf
(e.g. a failed solve) are never selected: they get ε_global = NaN in M0/M0a/M1 maps and weight 0
in M2 and M3.

One module per model (:mod:`.m0`, :mod:`.m0a`, :mod:`.m1`, :mod:`.m2`, :mod:`.m3`), their result classes in
:mod:`.results`, the shared input handling in :mod:`.inputs` and the error measures in
:mod:`.metrics`.
"""

from .inputs import DICTIONARY_DIMS, DICTIONARY_M0_DIMS, MEASURED_DIMS, select_bins
from .m0 import fit_m0
from .m0a import fit_m0a
from .m1 import fit_m1
from .m2 import fit_m2
from .m3 import fit_m3
from .metrics import epsilon_freq, epsilon_global, row_error, transfer_function
from .ranks import parse_rank, rank_counts
from .results import FitM0aResult, FitM0Result, FitM1Result, FitM2Result, FitM3Result

__all__ = [
    "fit_m0", "fit_m0a", "fit_m1", "fit_m2", "fit_m3", "parse_rank", "rank_counts",
    "FitM0Result", "FitM0aResult", "FitM1Result", "FitM2Result", "FitM3Result",
    "select_bins", "MEASURED_DIMS", "DICTIONARY_DIMS", "DICTIONARY_M0_DIMS",
    "transfer_function", "row_error", "epsilon_freq", "epsilon_global",
]
