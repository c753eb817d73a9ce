"""The package version (one home: the provenance of every store reads it)."""

__version__ = "0.1.0"
