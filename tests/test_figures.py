"""Tests of mpisweep.figures on small synthetic ``models`` datasets (layout of the fit step)."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
import xarray as xr
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure
from matplotlib.image import imread

from mpisweep import figures as F
from mpisweep.figures.rows import _images

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- synthetic data
def make_models(n_angle=3, diameters=(18.0, 22.0, 26.0), anisotropies=(100.0, 1100.0, 2100.0, 3100.0),
                ranks=(1.0, 0.05), n_off=5, max_order=3, seed=0, nan=True):
    """A ``models`` Dataset with the exact layout of results/fits/models.zarr (synthetic values)."""
    rng = np.random.default_rng(seed)
    angle = np.arange(n_angle) * (180.0 / max(n_angle, 1))
    pairs = [(a, b) for a in range(max_order + 1) for b in range(max_order + 1)
             if (a, b) not in ((0, 0), (0, 1), (1, 0))]
    mx = np.array([p[0] for p in pairs])
    my = np.array([p[1] for p in pairs])
    k = 16 * mx + 17 * my
    ox = np.linspace(-14.35, 14.35, n_off)
    oy = np.linspace(-14.71, 14.71, n_off)
    u, v = np.meshgrid(ox / 15.0, oy / 15.0)  # (offset_y, offset_x)
    nA, nC, nF = n_angle, 2, len(pairs)
    S = np.zeros((nA, nC, nF, n_off, n_off), complex)
    for a, th in enumerate(np.deg2rad(angle)):
        along = u * np.cos(th) + v * np.sin(th)
        env = np.exp(-2.0 * (u * np.sin(th) - v * np.cos(th)) ** 2 - 0.5 * along**2)
        for c in range(nC):
            for f, (px, py) in enumerate(pairs):
                pat = np.cos(px * np.arccos(np.clip(u, -1, 1))) * np.cos(py * np.arccos(np.clip(v, -1, 1)))
                amp = 1.0 / (1 + px + py) * (1.5 if c == 0 else 1.0)
                S[a, c, f] = amp * (0.4 + env) * pat * np.exp(1j * (0.4 * px - 0.3 * py + 0.8 * c + 0.6 * along))
    noise = lambda s: s * (rng.standard_normal(S.shape) + 1j * rng.standard_normal(S.shape))  # noqa: E731
    m1 = S + noise(0.03) * np.abs(S).max()
    m0 = S.mean(axis=0, keepdims=True).repeat(nA, axis=0) + noise(0.02) * np.abs(S).max()
    m2 = np.stack([m1 + noise(0.01 * (1 + i)) * np.abs(S).max() for i in range(len(ranks))])

    def eps(model):
        N = n_off * n_off
        d = np.linalg.norm((S - model).reshape(*S.shape[:3], N), axis=-1)
        return d / (np.sqrt(N) * np.abs(S).reshape(*S.shape[:3], N).max(axis=-1))

    D, K = np.asarray(diameters, float), np.asarray(anisotropies, float)
    dd, kk = np.meshgrid(D, K, indexing="ij")
    eg1 = (0.2 + 0.04 * (((dd - 22) / 4 + (kk - 1100) / 2000) ** 2 + 0.3 * ((dd - 22) / 4) ** 2)
           + 0.01 * rng.random(dd.shape))
    eg0 = 0.3 + 0.02 * ((D - 22) / 4) ** 2
    w = rng.random((len(ranks), D.size, K.size)) * (rng.random((len(ranks), D.size, K.size)) > 0.6)
    eg2 = 0.199 + 0.01 * np.arange(len(ranks))
    e2 = np.stack([eps(m) for m in m2])
    e0, e1 = eps(m0), eps(m1)
    if nan:
        e1[0, 0, 0] = np.nan
        e2[..., -1] = np.nan  # a whole frequency missing in M2
        eg1.flat[-1] = np.nan
        w[0, 0, 0] = np.nan
    i, j = np.unravel_index(np.nanargmin(eg1), eg1.shape)
    dims5 = ("angle", "channel", "frequency", "offset_y", "offset_x")
    dims3 = ("angle", "channel", "frequency")
    ds = xr.Dataset(
        {
            "measured": (dims5, S),
            "model_m0": (dims5, m0),
            "model_m1": (dims5, m1),
            "model_m2": (("rank",) + dims5, m2),
            "eps_m0": (dims3, e0),
            "eps_m1": (dims3, e1),
            "eps_m2": (("rank",) + dims3, e2),
            "eps_global_m0": (("diameter",), eg0),
            "eps_global_m1": (("diameter", "anisotropy"), eg1),
            "weights_m2": (("rank", "diameter", "anisotropy"), w),
            "eps_global_m2": (("rank",), eg2),
        },
        coords={
            "angle": angle, "channel": ["x", "y"], "frequency": k,
            "mx": ("frequency", mx), "my": ("frequency", my), "frequency_hz": ("frequency", k * 2.5e6 / 1632),
            "offset_x": ox, "offset_y": oy, "diameter": D, "anisotropy": K, "rank": np.asarray(ranks, float),
        },
        attrs={"best_m0_diameter": float(D[np.argmin(eg0)]), "best_m1_diameter": float(D[i]),
               "best_m1_anisotropy": float(K[j])},
    )
    return ds


@pytest.fixture(scope="module")
def models():
    return make_models()


@pytest.fixture(scope="module")
def full_models(models):
    """models with the optional M0a and M3 results too (every figure drawn, no placeholder)."""
    m = models.copy(deep=True)
    m["model_m0a"] = m["model_m1"] * 1.02
    m["eps_m0a"] = m["eps_m1"] * 1.3
    m["eps_global_m0a"] = m["eps_global_m1"] * 1.2
    m = m.assign_coords(rank_m3=[1.0, 0.5])
    m["model_m3"] = m["model_m1"].expand_dims(rank_m3=[1.0, 0.5]) * xr.DataArray([1.0, 0.9], dims="rank_m3")
    m["eps_m3"] = m["eps_m1"].expand_dims(rank_m3=[1.0, 0.5]) * xr.DataArray([0.9, 0.8], dims="rank_m3")
    w = np.random.default_rng(1).random((2, m.sizes["diameter"], m.sizes["anisotropy"]))
    m["weights_m3"] = (("rank_m3", "diameter", "anisotropy"), w / w.sum(axis=(1, 2), keepdims=True))
    m["eps_global_m3"] = ("rank_m3", [0.19, 0.18])
    return m


def _check_png(path):
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.01  # not a blank canvas
    return img


# ----------------------------------------------------------------------------- colouring
def _hsv(rgb):
    return np.array([colorsys.rgb_to_hsv(*c) for c in np.reshape(rgb, (-1, 3))])


def test_complex_to_rgb_phase_to_hue():
    z = np.array([1, -1, 1j, -1j, np.exp(1j * np.pi / 3)])
    hsv = _hsv(F.complex_to_rgb(z, normalize="none"))
    assert np.allclose(hsv[:, 0], [0.0, 0.5, 0.25, 0.75, 1 / 6], atol=1e-6)
    assert abs(hsv[0, 0] - hsv[1, 0]) == pytest.approx(0.5)  # z=1 and z=-1: opposite hues
    assert np.allclose(hsv[:, 1], 1) and np.allclose(hsv[:, 2], 1)
    # the phase, not the amplitude, decides the hue
    h2 = _hsv(F.complex_to_rgb(0.3 * z, normalize="none"))
    assert np.allclose(h2[:, 0], hsv[:, 0], atol=1e-6) and np.allclose(h2[:, 2], 0.3)


def test_complex_to_rgb_zero_black_nan_grey_and_range():
    rgb = F.complex_to_rgb(np.array([0, 1, np.nan, np.inf + 1j]), normalize="none")
    assert rgb.shape == (4, 3)
    assert np.array_equal(rgb[0], [0, 0, 0])
    assert np.allclose(rgb[2], F.NAN_RGB) and np.allclose(rgb[3], F.NAN_RGB)
    big = F.complex_to_rgb(np.random.default_rng(1).normal(size=(4, 5, 5)) * 10 + 3j, normalize="none")
    assert big.shape == (4, 5, 5, 3) and big.min() >= 0 and big.max() <= 1
    assert np.array_equal(F.complex_to_rgb(np.zeros((2, 3, 3))), np.zeros((2, 3, 3, 3)))  # zero row: black, no warning


def test_complex_to_rgb_row_normalisation():
    row = np.array([[1, 0.5j], [-0.25, 0]])  # one 2x2 image
    z = np.stack([row, 100 * row])  # two rows with very different amplitudes
    v = _hsv(F.complex_to_rgb(z, normalize="row"))[:, 2].reshape(2, 2, 2)
    assert np.allclose(v[0], v[1]) and np.allclose(v[0], [[1, 0.5], [0.25, 0]])  # each row → max 1
    vg = _hsv(F.complex_to_rgb(z, normalize="global"))[:, 2].reshape(2, 2, 2)
    assert vg[1].max() == pytest.approx(1) and vg[0].max() == pytest.approx(0.01)
    # flattened rows (..., N)
    v1 = _hsv(F.complex_to_rgb(z.reshape(2, 4), row_ndim=1))[:, 2].reshape(2, 4)
    assert np.allclose(v1.max(axis=1), 1)
    # explicit shared scale, clipped at 1
    vs = _hsv(F.complex_to_rgb(np.array([1, 2, 4]), normalize=2.0))[:, 2]
    assert np.allclose(vs, [0.5, 1, 1])
    with pytest.raises(ValueError):
        F.complex_to_rgb(z, normalize="bogus")


def test_colorbar_2d():
    img = F.colorbar_2d(n_phase=90, n_amp=20)
    assert img.shape == (20, 90, 3)
    assert np.allclose(img[0], 0)  # amplitude 0 row is black
    hsv = _hsv(img[-1])
    assert np.allclose(hsv[:, 2], 1)
    assert hsv[0, 0] == pytest.approx(0.5, abs=1e-6)  # phase −π → cyan
    assert hsv[45, 0] == pytest.approx(0.0, abs=0.02) or hsv[45, 0] == pytest.approx(1.0, abs=0.02)
    for orient, shape in (("horizontal", (20, 90, 3)), ("vertical", (90, 20, 3))):
        ax = Figure().add_subplot()
        F.add_colorbar_2d(ax, orientation=orient, n_phase=90, n_amp=20)
        assert len(ax.images) == 1 and ax.images[0].get_array().shape == shape


# ----------------------------------------------------------------------------- figures
def test_render_all_writes_every_png(full_models, tmp_path):
    """Every figure, M0a and M3 included (without them: test_missing_variables_give_placeholders; each
    figure of the base models on its own: the tests below)."""
    before = _pylab_helpers.Gcf.get_num_fig_managers()
    paths = F.render_all(full_models, tmp_path / "figs")
    assert [p.name for p in paths] == list(F.FILE_NAMES.values())
    assert set(F.FILE_NAMES.values()) == {"eps_global_m1.png", "eps_global_m0.png", "m2_weights.png",
                                          "eps_global_m0a.png", "m3_weights.png",
                                          "eps_freq.png", "eps_angle.png", "rows.png"}
    for p in paths:
        _check_png(p)
    assert _pylab_helpers.Gcf.get_num_fig_managers() == before  # nothing left open in pyplot


def test_eps_global_map_marks_true_minimum(models, tmp_path):
    info = F.plot_eps_global_map(models, tmp_path / "m1.png")
    e = models["eps_global_m1"].values
    i, j = np.unravel_index(np.nanargmin(e), e.shape)
    assert info["diameter"] == models.diameter.values[i]
    assert info["anisotropy"] == models.anisotropy.values[j]
    assert info["eps"] == pytest.approx(np.nanmin(e))
    _check_png(info["path"])
    # descending/unsorted coordinates and NaN at the former minimum: still the true minimum
    m = models.copy(deep=True).isel(diameter=[2, 0, 1], anisotropy=[3, 1, 0, 2])
    m["eps_global_m1"][{"diameter": 2, "anisotropy": 1}] = np.nan
    info2 = F.plot_eps_global_map(m, tmp_path / "m1b.png", log=True)
    e2 = m["eps_global_m1"].values
    i2, j2 = np.unravel_index(np.nanargmin(e2), e2.shape)
    assert (info2["diameter"], info2["anisotropy"]) == (m.diameter.values[i2], m.anisotropy.values[j2])
    assert (info2["diameter"], info2["anisotropy"]) != (info["diameter"], info["anisotropy"])


def test_eps_global_m0_minimum(models, tmp_path):
    info = F.plot_eps_global_m0(models, tmp_path / "m0.png")
    assert info["diameter"] == models.diameter.values[np.nanargmin(models.eps_global_m0.values)]
    _check_png(info["path"])


def test_eps_freq_grid_is_rms_over_angles_and_channels(models, tmp_path):
    g = F.eps_freq_grid(models, "m1")
    assert g.shape == (4, 4)  # my, mx = 0..3
    assert np.isnan(g[0, 0]) and np.isnan(g[1, 0]) and np.isnan(g[0, 1])
    e = models.eps_m1.sel(frequency=16 * 2 + 17 * 3).values  # mx=2, my=3
    assert g[3, 2] == pytest.approx(np.sqrt(np.nanmean(e**2)))
    info = F.plot_eps_freq(models, tmp_path / "ef.png")
    assert set(info["eps_global"]) == {"m0", "m1", "m2"}
    assert info["eps_global"]["m1"] < info["eps_global"]["m0"]  # synthetic M1 is the better model


def test_eps_angle_medians(models, tmp_path):
    info = F.plot_eps_angle(models, tmp_path / "ea.png", m2_rank=0.05)
    e = models.eps_m0.values
    assert np.allclose(info["median"]["m0"], [np.median(e[a]) for a in range(e.shape[0])])
    assert info["median"]["m2"].shape == (models.sizes["angle"],)


def test_rows_selection_and_orientation(models, tmp_path):
    info = F.plot_rows(models, tmp_path / "rows.png")
    assert info["frequencies"] == [(1, 1), (3, 3), (1, 3)]
    assert info["angles"] == [0.0, 60.0, 120.0]
    info = F.plot_rows(models, tmp_path / "rows2.png", frequencies=[(2, 2), 16 * 3 + 17 * 1], angles=[60],
                       channel="y", diff=False)
    assert info["frequencies"] == [(2, 2), (3, 1)] and info["angles"] == [60.0]
    with pytest.raises(ValueError):
        F.plot_rows(models, tmp_path / "bad.png", frequencies=[(9, 9)])
    with pytest.raises(ValueError):
        F.plot_rows(models, tmp_path / "bad.png", angles=[7.5])
    # offsets stored in descending order are displayed ascending (origin lower, x to the right)
    flipped = models.isel(offset_y=slice(None, None, -1))
    a = _images(flipped, "measured", 0, [0], [0], None)
    b = _images(models, "measured", 0, [0], [0], None)
    assert np.array_equal(a, b)
    assert np.array_equal(b[0, 0], models.measured.values[0, 0, 0])  # [offset_y, offset_x] ascending


def test_m2_rank_choice_and_weights(models, tmp_path):
    from mpisweep.figures._common import rank_index

    assert rank_index(models) == 0  # lowest eps_global_m2
    assert rank_index(models, 0.05) == 1
    with pytest.raises(ValueError):
        rank_index(models, 0.5)
    info = F.plot_m2_weights(models, tmp_path / "w.png", rank=0.05)
    assert info["ranks"] == [0.05]
    _check_png(info["path"])


def test_robust_to_tiny_grids_and_nan(tmp_path):
    m = make_models(n_angle=1, diameters=(20.0, 24.0), anisotropies=(500.0,), ranks=(1.0,), n_off=3, max_order=2)
    m["eps_m0"][{"frequency": 0}] = np.nan
    m["measured"][{"offset_x": 1, "offset_y": 1}] = np.nan + 0j
    paths = F.render_all(m, tmp_path / "tiny")
    for p in paths:
        _check_png(p)
    # single rank stored without a rank dimension, an all-NaN M1 map, one model missing
    m2 = m.isel(rank=0).drop_vars("model_m0")
    m2["eps_global_m1"][:] = np.nan
    info = F.plot_eps_global_map(m2, tmp_path / "nan.png")
    assert np.isnan(info["diameter"]) and np.isnan(info["eps"])
    _check_png(info["path"])
    assert F.plot_m2_weights(m2, tmp_path / "w.png")["ranks"] == [1.0]
    assert F.plot_rows(m2, tmp_path / "r.png")["angles"] == [0.0]  # single angle, no M0 column
    for p in (tmp_path / "w.png", tmp_path / "r.png"):
        _check_png(p)


def test_missing_variables_give_placeholders(models, tmp_path):
    m = models[["eps_global_m1"]]  # only the M1 map can be drawn
    paths = F.render_all(m, tmp_path / "ph")
    assert [p.name for p in paths] == list(F.FILE_NAMES.values())
    for p in paths:
        _check_png(p)


def test_m0a_and_m3_are_drawn_when_present(full_models, tmp_path):
    m = full_models  # render_all on them: test_render_all_writes_every_png
    info = F.plot_eps_global_map(m, tmp_path / "m0a.png", model="m0a")
    e = m["eps_global_m0a"].values
    i, j = np.unravel_index(np.nanargmin(e), e.shape)
    assert (info["diameter"], info["anisotropy"]) == (m.diameter.values[i], m.anisotropy.values[j])
    assert F.plot_m3_weights(m, tmp_path / "w3.png")["ranks"] == [1.0, 0.5]
    assert set(F.plot_eps_freq(m, tmp_path / "ef.png")["eps_global"]) == {"m0", "m0a", "m1", "m2", "m3"}
    med = F.plot_eps_angle(m, tmp_path / "ea.png")["median"]
    e3 = m["eps_m3"].isel(rank_m3=1).values  # the lowest ε_global_m3 is shown
    assert np.allclose(med["m3"], [np.nanmedian(e3[a]) for a in range(e3.shape[0])])
