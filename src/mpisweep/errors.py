"""Every error mpisweep raises on purpose derives from :class:`MpisweepError`.

The command line turns a :class:`UsageError` (a bad argument) into exit status 2 and every other
:class:`MpisweepError` (a domain failure: bad config, bad file, failed solve, corrupt store) into
exit status 1, each as one line naming the argument, key, file or dataset. The domain classes also
derive from the builtin they refine (ValueError or RuntimeError), so ``except ValueError`` still
catches a bad input.
"""

from __future__ import annotations


class MpisweepError(Exception):
    """Base class: a failure whose message is meant for the user (no traceback needed)."""

    exit_status = 1


class UsageError(MpisweepError, ValueError):
    """A bad command-line value; the message names the argument."""

    exit_status = 2


class ConfigError(MpisweepError, ValueError):
    """An invalid sweep configuration; the message names the offending key."""


class MDFError(MpisweepError, ValueError):
    """An MDF file that cannot be read or does not match; the message names file and dataset."""


class MeasurementError(MpisweepError, ValueError):
    """Measured data missing or not matching the configuration; the message names file and field."""


class StoreError(MpisweepError, RuntimeError):
    """A shard, marker or store is missing, inconsistent or corrupt; the message names it."""


class DegreeError(MpisweepError, ValueError):
    """A truncation degree above the limit ``max_degree``; the message names L, the limit and the field."""


class SolverError(MpisweepError, RuntimeError):
    """A solve failed (unstable truncation, blow-up); the message names the parameters."""
