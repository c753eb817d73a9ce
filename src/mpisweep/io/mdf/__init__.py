"""MDF v2 (Magnetic Particle Imaging Data Format) system matrices: read, write, describe, check.

Spec: github.com/MagneticParticleImaging/MDF. Dimensions follow the spec's row-major order (the
order h5py shows). The reader returns an xarray Dataset with a complex `system_matrix`
("channel", "frequency", "offset"); `to_grid` unfolds "offset" into the calibration grid.
"""

from ._hdf import MDFError
from .info import check_compatible, describe
from .position_map import PositionMap, position_map, read_position_map
from .reader import LAYOUT_ATTRS, read_system_matrix, to_grid
from .writer import MDF_VERSION, METADATA_KEYS, write_system_matrix

__all__ = [
    "LAYOUT_ATTRS", "MDFError", "MDF_VERSION", "METADATA_KEYS", "PositionMap", "check_compatible", "describe",
    "position_map", "read_position_map", "read_system_matrix", "to_grid", "write_system_matrix",
]
