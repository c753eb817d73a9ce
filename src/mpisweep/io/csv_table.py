"""The small CSV tables that come beside measured files (the index of calibration files, robot positions):
one reader and one way to compare column names."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..errors import MeasurementError


def normalized(name: str) -> str:
    """A column name compared in lower case, without anything in brackets or any other non-alphanumeric
    ("Angle [deg]" → "angle", "Is background" → "isbackground")."""
    name = re.sub(r"[\(\[\{].*?[\)\]\}]", "", str(name).lower())
    return re.sub(r"[^0-9a-zµ]", "", name)


def read_table(path) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(line number, record)]) of a CSV delimited by ',', ';' or tabs (sniffed), blank rows left out.

    MeasurementError naming the file when it has no header.
    """
    path = Path(path)
    with open(path, newline="") as f:
        sample = f.read(4096)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(f, dialect=dialect)
        header = [h for h in (reader.fieldnames or []) if h is not None]
        if not header:
            raise MeasurementError(f"{path}: empty CSV (no header)")
        records = [(line, rec) for line, rec in enumerate(reader, start=2)
                   if any((v or "").strip() for v in rec.values() if isinstance(v, str))]
    return header, records
