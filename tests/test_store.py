"""Dictionary storage: shards + markers, atomic writes, assembly into one Zarr v3 tensor, M0 rows."""

import json

import numpy as np
import pytest
import xarray as xr
import zarr

from mpisweep import __version__
from mpisweep.errors import StoreError
from mpisweep.io.atomic import atomic_path
from mpisweep.io.stores import checksum, open_zarr, to_zarr
from mpisweep.physics.equilibrium import langevin_moment
from mpisweep.physics.spectra import spectrum
from mpisweep.steps.dictionary.assemble import assemble
from mpisweep.steps.dictionary.m0_dictionary import build_m0
from mpisweep.steps.dictionary.simulate import read_shard, simulate_shard
from mpisweep.sweep import Sweep
from mpisweep.sweep.coords import ROW_DIMS
from mpisweep.sweep.names import block_name

# tiny but physical: small particles (fast solves), 1 angle, 2 × 1 offsets, few bins
TINY = {
    "grids": {"diameters": [16], "anisotropies": [200, 600], "angles": [30]},
    "offsets": {"x": {"min": -5, "max": 5, "count": 2}, "y": {"min": 2, "max": 2, "count": 1}},
    "frequencies": {"mx": 2, "my": 2},
    "fit": {"ranks": ["100%"]},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("store")
    r = Sweep.load({**TINY, "output": str(out / "results")})
    infos = {}
    for name, d, k in r.blocks:
        infos[name] = simulate_shard(r, d, k, progress=False)
    return r, infos


def test_complex128_round_trips_through_zarr_v3(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 4)) + 1j * rng.normal(size=(2, 3, 4))
    a[0, 0, 0] = complex(1e-300, -1e300)
    ds = xr.Dataset({"v": (("a", "b", "c"), a)}, coords={"b": np.array(["x", "y", "z"], dtype=object)})
    to_zarr(ds, tmp_path / "c.zarr")
    back = open_zarr(tmp_path / "c.zarr")
    assert back["v"].dtype == np.complex128
    assert np.array_equal(back["v"].values, a)
    assert list(back["b"].values) == ["x", "y", "z"]
    assert zarr.open_group(tmp_path / "c.zarr", mode="r").metadata.zarr_format == 3


def test_shard_and_marker(tiny):
    r, infos = tiny
    for name, info in infos.items():
        shard = read_shard(r.layout.shard(name))
        marker = json.loads(r.layout.marker(name).read_text())
        rows = shard["rows"].transpose(*ROW_DIMS).values
        assert rows.shape == (1, 2, 6, 1, 2) and np.isfinite(rows).all() and np.abs(rows).max() > 0
        assert marker["sha256"] == checksum(rows) == info["sha256"]
        assert marker["package_version"] == __version__
        for key in ("wall_time_s", "degree", "rtol", "max_periodicity", "steps", "spec_hash"):
            assert key in marker
        assert marker["max_periodicity"] < 1e-4
        assert shard["frequency"].values.tolist() == r.bins[:, 2].tolist()
        assert shard["offset_x"].attrs["units"] == "mT"
    # no temporary directories left next to the shards
    assert sorted(p.name for p in r.layout.shards.iterdir()) == ["D16_K200.zarr", "D16_K600.zarr"]


def test_atomic_path_keeps_old_store_on_failure(tmp_path):
    target = tmp_path / "s.zarr"
    to_zarr(xr.Dataset({"v": ("a", [1.0])}), target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            to_zarr(xr.Dataset({"v": ("a", [2.0])}), tmp)
            raise RuntimeError("killed")
    assert open_zarr(target)["v"].values.tolist() == [1.0]
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_assembled_tensor_equals_shards(tiny, tmp_path):
    r, infos = tiny
    out = assemble(r, tmp_path / "fp.zarr")
    ds = open_zarr(out)
    assert ds["rows"].dims == ("diameter", "anisotropy") + ROW_DIMS
    for i, d in enumerate(r.grids.diameters_nm):
        for j, k in enumerate(r.grids.anisotropies_Jm3):
            shard = read_shard(r.layout.shard(block_name(d, k)))
            assert np.array_equal(ds["rows"].isel(diameter=i, anisotropy=j).values, shard["rows"].values)
    assert ds["diameter"].attrs["units"] == "nm" and ds["anisotropy"].attrs["units"] == "J/m^3"
    assert ds["angle"].attrs["units"] == "deg" and ds["frequency_hz"].attrs["units"] == "Hz"
    assert list(ds["channel"].values) == ["x", "y"]
    assert ds["mx"].values.tolist() == r.bins[:, 0].tolist()
    assert ds.attrs["config_hash"] == r.config_hash
    assert ds.attrs["package_version"] == __version__
    assert len(ds.attrs["git_revision"]) in (40, 7) or ds.attrs["git_revision"] == "unknown"
    assert ("rfft" in ds.attrs["spectrum_convention"]
            and json.loads(ds.attrs["solver"]) == {"degree": "auto", "rtol": "auto"})
    assert ds["degree"].dims == ("diameter", "anisotropy", "offset_y", "offset_x")


def test_assemble_rejects_corrupt_or_stale_shards(tiny, tmp_path):
    r, infos = tiny
    name = "D16_K600"
    shard = r.layout.shard(name)
    group = zarr.open_group(shard, mode="r+")
    original = group["rows"][...]
    try:
        bad = original.copy()
        bad[0, 0, 0, 0, 0] += 1e-12
        group["rows"][...] = bad
        with pytest.raises(StoreError, match=f"{name}.zarr: rows do not match the sha256"):
            assemble(r, tmp_path / "fp.zarr")
    finally:
        group["rows"][...] = original
    other = Sweep.load({**TINY, "output": r.output, "particle": {"alpha": 0.2}})
    with pytest.raises(StoreError, match="another dictionary spec"):
        assemble(other, tmp_path / "fp2.zarr")
    assert not (tmp_path / "fp.zarr").exists() and not (tmp_path / "fp2.zarr").exists()


def test_m0_dictionary_is_the_langevin_spectrum(tiny, tmp_path):
    r, _ = tiny
    ds = open_zarr(build_m0(r, tmp_path / "m0.zarr"))
    assert ds["rows"].dims == ("diameter", "channel", "frequency", "offset_y", "offset_x")
    ex = r.excitation.with_offset(r.offsets[0, 1])
    _, rate = langevin_moment(r.particle(16, 0), ex.field(ex.times), ex.field_rate(ex.times))
    want = spectrum(rate)[:, r.bins[:, 2]]
    np.testing.assert_allclose(ds["rows"].isel(diameter=0, offset_y=0, offset_x=1).values, want, rtol=1e-12, atol=0)


def test_blockwise_dictionary_view_gives_the_same_fits(tiny, tmp_path):
    from mpisweep.fitting import DICTIONARY_DIMS, fit_m1, fit_m2
    from mpisweep.steps.fit.dictionaries import FlatOffsetView, flat

    r, _ = tiny
    ds = open_zarr(assemble(r, tmp_path / "fp.zarr"))
    rng = np.random.default_rng(3)
    rows = ds["rows"].values
    measured = np.tensordot([0.3, 0.7], rows[0], axes=(0, 0)).reshape(1, 2, -1, 2)
    measured = measured * (1 + 0.05 * rng.normal(size=measured.shape))
    measured = xr.DataArray(measured, dims=("angle", "channel", "frequency", "offset"),
                            coords={"frequency": ds["frequency"].values})
    bins = r.bins
    lazy, eager = FlatOffsetView(ds["rows"]), flat(ds["rows"], DICTIONARY_DIMS)
    a, b = fit_m1(measured, lazy, bins), fit_m1(measured, eager, bins)
    np.testing.assert_array_equal(a.eps_global, b.eps_global)
    a, b = fit_m2(measured, lazy, bins, ranks=[1.0]), fit_m2(measured, eager, bins, ranks=[1.0])
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-12, atol=1e-14)
