"""``mpisweep mdf-info FILE``: the summary of an MDF v2 file (:func:`mpisweep.io.mdf.describe`)."""

from __future__ import annotations

from pathlib import Path

from ...errors import UsageError
from ..command import Command


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="MDF (HDF5) file")


def run(args) -> int:
    from ...io.mdf import describe

    path = Path(args.file)
    if path.is_dir():
        raise UsageError(f"FILE: {path} is a directory, not an MDF file")
    if not path.exists():
        raise UsageError(f"FILE: {path}: no such file")
    print(describe(path))
    return 0


COMMANDS = (
    Command("mdf-info", "summarise an MDF v2 system-matrix file",
            "Print version, grid, channels, frequencies, drive field and processing flags of an MDF file.",
            add_arguments, run),
)
