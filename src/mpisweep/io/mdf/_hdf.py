"""Low-level HDF5 access for MDF files: typed reads that fail with `MDFError` naming file and dataset."""

from __future__ import annotations

import contextlib
import os
import stat

import h5py
import numpy as np

from ...errors import MDFError


@contextlib.contextmanager
def open_mdf(path):
    """Open `path` read-only; a missing or non-HDF5 file becomes an `MDFError` naming it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MDFError(f"{path}: no such file")
    if not os.path.isfile(path):  # a directory, a device (/dev/null), a pipe: h5py cannot read it
        raise MDFError(f"{path}: not an MDF/HDF5 file ({_kind(path)}, not a regular file)")
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise MDFError(f"{path}: not a readable MDF/HDF5 file ({err})") from None
    try:
        yield handle
    finally:
        handle.close()


def _kind(path: str) -> str:
    """What a path that is not a regular file is, for the error that refuses it."""
    mode = os.stat(path).st_mode
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


class Reader:
    """Typed access to the datasets of one open MDF file; every error names `name` and the dataset path."""

    def __init__(self, handle: h5py.File, name: str):
        self.h = handle
        self.name = name

    def error(self, key: str, what: str) -> MDFError:
        return MDFError(f"{self.name}: {key} {what}")

    def has(self, key: str) -> bool:
        return key in self.h and isinstance(self.h[key], h5py.Dataset)

    def raw(self, key: str, required: bool = True):
        """The dataset at `key` as stored (numpy array or scalar), or None when optional and absent."""
        if not self.has(key):
            if required:
                raise self.error(key, "is missing (required by MDF v2)")
            return None
        try:
            return self.h[key][()]
        except (OSError, TypeError, ValueError) as err:
            raise self.error(key, f"cannot be read ({err})") from None

    def array(self, key: str, dtype=float, ndim=None, required: bool = True):
        """A numeric array; a scalar stored where an array is expected is promoted, `ndim` is checked."""
        value = self.raw(key, required)
        if value is None:
            return None
        try:
            arr = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError):
            raise self.error(key, f"has non-numeric type {np.asarray(value).dtype}") from None
        if ndim is not None:
            while arr.ndim < ndim and arr.size == 1:
                arr = arr.reshape((1,) * (arr.ndim + 1))
            if arr.ndim != ndim:
                raise self.error(key, f"has shape {arr.shape}, expected {ndim} dimension(s)")
        return arr

    def scalar(self, key: str, dtype=float, required: bool = True, default=None):
        """One number (a size-1 array is accepted)."""
        value = self.raw(key, required)
        if value is None:
            return default
        arr = np.asarray(value)
        if arr.size != 1:
            raise self.error(key, f"has shape {arr.shape}, expected a single value")
        try:
            return dtype(arr.reshape(-1)[0])
        except (TypeError, ValueError):
            raise self.error(key, f"is not a {dtype.__name__} ({arr.reshape(-1)[0]!r})") from None

    def flag(self, key: str, required: bool = True, default=None):
        """An Int8 Boolean flag."""
        value = self.scalar(key, int, required, None)
        if value is None:
            return default
        if value not in (0, 1):
            raise self.error(key, f"is {value}, expected a Boolean flag 0 or 1")
        return bool(value)

    def string(self, key: str, required: bool = True, default=None):
        """One string (fixed or variable length, bytes or str)."""
        value = self.raw(key, required)
        if value is None:
            return default
        strings = decode_strings(value)
        if strings.size != 1:
            return " ".join(strings.reshape(-1))
        return str(strings.reshape(-1)[0])

    def strings(self, key: str, required: bool = True):
        """An array of strings of any shape."""
        value = self.raw(key, required)
        return None if value is None else decode_strings(value)

    def complex_array(self, key: str, required: bool = True, pair_axis: bool = True):
        """A complex array stored as compound {r, i}, native complex, or (with `pair_axis`) a trailing axis of 2."""
        value = self.raw(key, required)
        if value is None:
            return None
        return as_complex(np.asarray(value), self.error, key, pair_axis)


def decode_strings(value) -> np.ndarray:
    """Bytes or str (scalar or array) as a numpy array of str."""
    arr = np.asarray(value, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx, item in np.ndenumerate(arr):
        out[idx] = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    return out.astype(str)


def as_complex(arr: np.ndarray, error, key: str, pair_axis: bool) -> np.ndarray:
    """Convert compound {r, i} (any numeric field type), native complex or a trailing (re, im) axis to complex128."""
    if np.iscomplexobj(arr):
        return arr.astype(np.complex128)
    names = arr.dtype.names
    if names:
        if "r" in names and "i" in names:
            return arr["r"].astype(np.float64) + 1j * arr["i"].astype(np.float64)
        raise error(key, f"is a compound without fields r and i (fields {names})")
    if pair_axis and arr.ndim >= 1 and arr.shape[-1] == 2 and np.issubdtype(arr.dtype, np.number):
        return arr[..., 0].astype(np.float64) + 1j * arr[..., 1].astype(np.float64)
    raise error(key, f"is not complex (dtype {arr.dtype}, shape {arr.shape}); expected a compound {{r, i}}")
