"""The one way outputs are written: to a temporary sibling, then renamed into place.

A reader therefore sees either the old file (or none) or the complete new one, never a partial
one, even when the writer is killed. Temporaries carry the writer's PID, so the next writer
removes those of writers that died (SIGKILL skips any cleanup) and leaves running ones alone.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temporaries(target) -> None:
    """Delete temporaries of `target` left by writers that are no longer running."""
    target = Path(target)
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            pid = int(leftover.name.rsplit("-", 1)[1].split(".")[0])
            os.kill(pid, 0)  # still running: leave it alone
        except ProcessLookupError:
            _remove(leftover)
        except (ValueError, PermissionError):
            continue


@contextlib.contextmanager
def atomic_path(target, suffix: str = ""):
    """Yield a temporary sibling path for a file or a directory; on success it replaces `target`.

    `suffix` keeps a file extension on the temporary for writers that insist on one (np.savez).
    Nothing is left behind on failure (a full disk included).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}{suffix}")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and target.exists():
            # a directory cannot be replaced in one rename: move the old one aside first
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            _remove(tmp)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    """Indented, key-sorted JSON (NaN allowed: markers record non-finite statistics as they are)."""
    write_text(path, json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n")


def write_csv(path, rows: list[dict], fields: list[str]) -> None:
    """A CSV with header `fields`; missing or None values are written as empty cells."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
