"""The config's ``fit`` section: the models M2 and M3 (truncated-SVD ranks, M3's alternating least squares)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import ConfigError
from ...fitting.ranks import parse_rank
from ..schema import schema_default


@dataclass(frozen=True)
class M3Settings:
    """``fit.m3``: ranks of the weight step, the weights' L2 parameter and the iteration's stop."""

    ranks: tuple  # TSVD ranks of the w-step, as written in the config ("100%" or counts)
    rank_fractions: tuple[float, ...]
    l2: float  # L2 (Tikhonov) parameter λ ≥ 0
    max_iter: int
    tol: float  # largest weight change (Σw = 1) of an iteration at convergence

    def to_json(self) -> dict:
        return {"ranks": list(self.ranks), "rank_fractions": list(self.rank_fractions), "l2": self.l2,
                "max_iter": self.max_iter, "tol": self.tol}


@dataclass(frozen=True)
class FieldSettings:
    """``fit.fields``: the field calibration (scales of the stated offset and drive fields)."""

    calibrate: bool
    candidates: int  # M1's best entries that become candidates
    min_weight: float  # M3 weight that makes an entry a candidate
    min_gain: float  # share by which ε_global must fall to declare the stated fields off
    max_change: float  # the scales stay within 1 ± this
    drive_profile: int = 0  # degree of the drive amplitude's variation over each offset axis (0: homogeneous)
    sensitivity: int = 0  # degree of the receive sensitivity's variation over each offset axis (0: homogeneous)
    start_scales: tuple[float, ...] = (1.0,)  # offset scales the calibration starts from
    angles: int | None = None  # calibration angles the scales are fitted on (None: all)
    offsets: int | None = None  # points per offset axis the scales are fitted on (None: all)

    @classmethod
    def from_mapping(cls, f: Mapping) -> "FieldSettings":
        # a config resolved before angles and offsets existed fitted the scales on all rows
        settings = cls(bool(f["calibrate"]), int(f["candidates"]), float(f["min_weight"]), float(f["min_gain"]),
                       float(f["max_change"]), int(f.get("drive_profile", 0)), int(f.get("sensitivity", 0)),
                       tuple(float(v) for v in f.get("start_scales", (1.0,))), _count(f.get("angles")),
                       _count(f.get("offsets")))
        outside = [v for v in settings.start_scales if abs(v - 1) > settings.max_change]
        if outside:
            raise ConfigError(f"config key 'fit.fields.start_scales': {outside[0]:g} is outside 1 ± "
                              f"fit.fields.max_change ({settings.max_change:g})")
        return settings

    def to_json(self) -> dict:
        # the profiles and starts only when set, so that the resolved configs (and hashes) of the others stand
        profiles = {key: v for key, v, off in (("drive_profile", self.drive_profile, 0),
                                               ("sensitivity", self.sensitivity, 0),
                                               ("start_scales", list(self.start_scales), [1.0])) if v != off}
        return {"calibrate": self.calibrate, "candidates": self.candidates, "min_weight": self.min_weight,
                "min_gain": self.min_gain, "max_change": self.max_change, "angles": self.angles,
                "offsets": self.offsets} | profiles


def _count(value) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class TransferSettings:
    """``fit.transfer_function``: a measured receive transfer function checked against the data (None: none)."""

    path: str | None
    channels: tuple[int, ...] | None  # the file's channel per receive channel (None: try every one)
    applied_to: str  # auto, moment or rate

    @classmethod
    def from_mapping(cls, t: Mapping, n_receive: int | None = None) -> "TransferSettings":
        channels = t["channels"]
        if channels is not None and n_receive is not None and len(channels) != n_receive:
            raise ConfigError(f"config key 'fit.transfer_function.channels': {list(channels)} names "
                              f"{len(channels)} file channels for {n_receive} receive channels")
        return cls(t["path"], None if channels is None else tuple(int(c) for c in channels), t["applied_to"])

    def to_json(self) -> dict:
        return {"path": self.path, "channels": None if self.channels is None else list(self.channels),
                "applied_to": self.applied_to}


#: fit.transfer_function off (the default, and a config resolved before the key existed)
TRANSFER_OFF = TransferSettings(None, None, "auto")


#: fit.fields of a config resolved before the key existed: the schema's defaults, off, as those fits were
FIELDS_OFF = FieldSettings.from_mapping({**schema_default("fit", "fields"), "calibrate": False})


@dataclass(frozen=True)
class FitSettings:
    """``fit``: M2's ranks and SVD, the memory bound of the in-memory fits, M3, and the SNR a measured row
    needs to enter the fits (None: every row)."""

    ranks: tuple  # as written in the config ("5%" or counts)
    rank_fractions: tuple[float, ...]
    svd: str
    max_memory_gb: float
    m3: M3Settings
    snr_threshold: float | None
    fields: FieldSettings
    transfer_function: TransferSettings = TRANSFER_OFF

    @classmethod
    def from_config(cls, f: Mapping, n_entries: int, n_receive: int | None = None) -> "FitSettings":
        """Ranks checked against the dictionary's `n_entries` (D × K) entries, the transfer function's
        channels against the `n_receive` receive channels."""
        m3 = f["m3"]
        return cls(tuple(f["ranks"]), tuple(rank_fractions(f["ranks"], n_entries, "fit.ranks")), f["svd"],
                   float(f["max_memory_gb"]),
                   M3Settings(tuple(m3["ranks"]), tuple(rank_fractions(m3["ranks"], n_entries, "fit.m3.ranks")),
                              float(m3["l2"]), int(m3["max_iter"]), float(m3["tol"])),
                   _threshold(f["snr_threshold"]), FieldSettings.from_mapping(f["fields"]),
                   TransferSettings.from_mapping(f["transfer_function"], n_receive))

    @classmethod
    def from_json(cls, f: Mapping) -> "FitSettings":
        m3 = f["m3"]
        return cls(tuple(f["ranks"]), tuple(f["rank_fractions"]), f["svd"], float(f["max_memory_gb"]),
                   M3Settings(tuple(m3["ranks"]), tuple(m3["rank_fractions"]), float(m3["l2"]),
                              int(m3["max_iter"]), float(m3["tol"])),
                   _threshold(f.get("snr_threshold")),  # absent in a config resolved before the key existed
                   FieldSettings.from_mapping(f["fields"]) if "fields" in f else FIELDS_OFF,
                   TransferSettings.from_mapping(f["transfer_function"]) if "transfer_function" in f else TRANSFER_OFF)

    def to_json(self) -> dict:
        return {"ranks": list(self.ranks), "rank_fractions": list(self.rank_fractions), "svd": self.svd,
                "max_memory_gb": self.max_memory_gb, "m3": self.m3.to_json(), "snr_threshold": self.snr_threshold,
                "fields": self.fields.to_json()} | (
                    # written only when set, so that the resolved configs (and hashes) of the others stand
                    {"transfer_function": self.transfer_function.to_json()} if self.transfer_function.path else {})


def _threshold(value) -> float | None:
    return None if value is None else float(value)


def rank_fractions(ranks, n_entries: int, key: str) -> list[float]:
    """Each rank as a fraction of the `n_entries` dictionary entries (ConfigError naming `key[i]`)."""
    fractions = []
    for i, r in enumerate(ranks):
        spec = parse_rank(r)
        f = spec / n_entries if isinstance(spec, int) else spec
        if not 0 < f <= 1:
            raise ConfigError(f"config key '{key}[{i}]': {r!r} is not within (0 %, 100 %] of the "
                              f"{n_entries} dictionary entries")
        fractions.append(f)
    if len(set(fractions)) != len(fractions):
        raise ConfigError(f"config key '{key}': duplicate ranks {list(ranks)}")
    return fractions
