"""Sweep configuration: schema validation with errors naming the key, SI conversion, grid expansion, the typed Sweep."""

import json
import re
import time
from pathlib import Path

import pytest
import yaml
from helpers import run_snakemake

from mpisweep.errors import ConfigError
from mpisweep.sweep import Sweep
from mpisweep.sweep.config import digest
from mpisweep.sweep.names import block_name, label
from mpisweep.sweep.specs import dictionary_spec

REPO = Path(__file__).resolve().parents[1]
MINIMAL = {"grids": {"diameters": [20, 22], "anisotropies": [500, 1100], "angles": [0, 90]}}


def resolved(cfg):
    return Sweep.load(cfg).to_dict()


def test_default_config_resolves_to_si():
    sweep = Sweep.load(REPO / "config" / "config.yaml")
    r = sweep.to_dict()
    assert r["scanner"]["amplitudes_T"] == pytest.approx([12.59e-3, 13.55e-3])
    assert r["scanner"]["base_frequency"] == 2.5e6 and r["scanner"]["samples"] == 1632
    assert r["offsets"]["x_T"] == pytest.approx([-14.35e-3, 14.35e-3])
    assert r["particle"] == {"ms": 474000.0, "alpha": 0.1, "temperature": 293.0, "gamma": 1.75e11}
    bins = sweep.bins
    assert bins.shape == (97, 3)
    assert (bins[:, 2] == 16 * bins[:, 0] + 17 * bins[:, 1]).all()
    assert not {(0, 0), (0, 1), (1, 0)} & {tuple(b[:2]) for b in bins}
    assert sweep.particle(22, 1100).diameter == pytest.approx(22e-9)
    assert sweep.cycle == pytest.approx(652.8e-6) and sweep.offsets.shape == (5, 5, 3)
    assert sweep.excitation.amplitudes == pytest.approx((12.59e-3, 13.55e-3))


def test_paper_config_has_the_paper_grids():
    sweep = Sweep.load(REPO / "config" / "paper.yaml")
    r = sweep.to_dict()
    g = r["grids"]
    assert g["diameters_nm"] == [14, 16, 18, 20, 22, 24, 26, 28]
    assert len(g["anisotropies_Jm3"]) == 90 and g["anisotropies_Jm3"][0] == 100 and g["anisotropies_Jm3"][-1] == 9000
    assert g["angles_deg"] == [15.0 * i for i in range(12)]
    assert (r["offsets"]["nx"], r["offsets"]["ny"]) == (11, 11)
    assert r["offsets"]["y_T"] == pytest.approx([-14.71e-3, 14.71e-3])
    assert r["fit"]["rank_fractions"] == pytest.approx([1, 0.05, 0.04, 0.03, 0.02, 0.01, 0.005])
    names = [b[0] for b in sweep.blocks]
    assert len(names) == 720 == len(set(names)) and "D22_K1100" in names
    assert r["measurement"]["mdf"]["angle_offset"] == 90


def test_defaults_are_filled_from_the_schema():
    r = resolved(MINIMAL)
    assert r["scanner"]["dividers"] == [102, 96] and r["offsets"]["nx"] == 11
    assert r["solver"] == {"degree": None, "rtol": None}
    assert r["measurement"]["source"] == "virtual"
    assert r["measurement"]["virtual"]["solver"] == {"degree_offset": 4, "rtol_factor": 0.1}
    assert r["output"] == "results"


def test_grid_ranges_labels_and_ranks():
    cfg = {"grids": {"diameters": {"start": 14, "stop": 28, "step": 2},
                     "anisotropies": {"start": 0.5, "stop": 1.5, "step": 0.25},
                     "angles": {"start": 0, "stop": 165, "step": 15}}, "fit": {"ranks": ["100%", "0.5%", 3]}}
    r = resolved(cfg)
    assert r["grids"]["anisotropies_Jm3"] == [0.5, 0.75, 1.0, 1.25, 1.5]
    assert len(r["grids"]["angles_deg"]) == 12
    assert r["fit"]["rank_fractions"] == pytest.approx([1.0, 0.005, 3 / 40])
    assert block_name(22, 1100) == "D22_K1100" and block_name(22.5, 0.75) == "D22.5_K0.75"
    assert label(1e-3) == "0.001"


def test_config_hash_is_canonical():
    a = resolved(MINIMAL)
    b = resolved({"grids": {"angles": [90, 0], "anisotropies": [1100, 500], "diameters": [22, 20]}})
    assert digest(a) == digest(b)  # grids are sorted, keys canonical
    c = resolved({**MINIMAL, "particle": {"alpha": 0.2}})
    assert digest(c) != digest(a)

    def spec(cfg):
        return digest(dictionary_spec(Sweep.load(cfg)))

    assert spec({**MINIMAL, "particle": {"alpha": 0.2}}) != spec(MINIMAL)
    assert spec({**MINIMAL, "fit": {"ranks": ["50%"]}}) == spec(MINIMAL)  # fits do not touch the dictionary


@pytest.mark.parametrize("patch,key", [
    ({"particle": {"foo": 1}}, "particle.foo"),
    ({"partcle": {"ms": 1}}, "partcle"),
    ({"grids": {"diameters": [-14, 16], "anisotropies": [1], "angles": [0]}}, "grids.diameters[0]"),
    ({"grids": {"diameters": [14], "anisotropies": [-1], "angles": [0]}}, "grids.anisotropies[0]"),
    ({"grids": {"diameters": "abc", "anisotropies": [1], "angles": [0]}}, "grids.diameters"),
    ({"grids": {"diameters": {"start": 14, "stop": 20}, "anisotropies": [1], "angles": [0]}}, "grids.diameters.step"),
    ({"grids": {"diameters": {"start": 14, "stop": 21, "step": 2}, "anisotropies": [1], "angles": [0]}},
     "grids.diameters.step"),
    ({"grids": {"diameters": [14, 14], "anisotropies": [1], "angles": [0]}}, "grids.diameters"),
    ({"grids": {"diameters": [14], "anisotropies": [1], "angles": [0, 180]}}, "grids.angles"),
    ({"scanner": {"dividers": [102, "x"]}}, "scanner.dividers[1]"),
    ({"scanner": {"base_frequency": "2.5e6"}}, "scanner.base_frequency"),
    ({"scanner": {"samples": 100}}, "frequencies"),
    ({"solver": {"degree": "high"}}, "solver.degree"),
    ({"solver": {"rtol": 2}}, "solver.rtol"),
    ({"fit": {"ranks": ["5 pct"]}}, "fit.ranks[0]"),
    ({"fit": {"ranks": ["50%", "50 %"]}}, "fit.ranks"),
    ({"measurement": {"source": "mdf"}}, "measurement.mdf"),
    ({"measurement": {"source": "scanner"}}, "measurement.source"),
    ({"measurement": {"virtual": {"transfer_function": {"kind": "h5"}}}}, "measurement.virtual.transfer_function.path"),
    ({"measurement": {"virtual": {"components": [{"diameter": 22, "anisotropy": 1100}]}}},
     "measurement.virtual.components[0].weight"),
])
def test_errors_name_the_key(patch, key):
    cfg = {**MINIMAL, **patch}
    with pytest.raises(ConfigError) as err:
        resolved(cfg)
    assert f"'{key}'" in str(err.value), str(err.value)


def test_missing_grids_and_yaml_float_hint(tmp_path):
    with pytest.raises(ConfigError, match="'grids'"):
        resolved({})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(MINIMAL) + "scanner: {base_frequency: 2.5e6}\n")
    with pytest.raises(ConfigError, match=r"scanner.base_frequency.*2\.5e\+6"):
        Sweep.load(path)


def test_duplicate_yaml_keys_are_an_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("grids: {diameters: [20], anisotropies: [500], angles: [0]}\noutput: a\noutput: b\n")
    with pytest.raises(ConfigError, match=r"'output' appears twice \(lines 2 and 3\)"):
        Sweep.load(path)


def test_sweep_round_trips_through_its_resolved_json(tmp_path):
    sweep = Sweep.load(REPO / "config" / "config.yaml")
    path = tmp_path / "resolved.json"
    sweep.write(path)
    back = Sweep.read(path)
    assert back == sweep and back.config_hash == sweep.config_hash
    assert json.loads(path.read_text()) == sweep.to_dict()
    assert Sweep.read(REPO / "config" / "config.yaml") == sweep  # YAML by suffix
    with pytest.raises(ConfigError, match="not a resolved sweep config"):
        (tmp_path / "bad.json").write_text('{"output": "x"}')
        Sweep.read(tmp_path / "bad.json")
    with pytest.raises(AttributeError):
        sweep.output = "elsewhere"  # frozen


def test_a_config_resolved_before_newer_keys_reads_them_at_their_defaults_and_keeps_its_own(tmp_path):
    """The resolved config of an earlier run (no orientation.reconstruction.auto, explicit λ and threshold, no
    fit.fields.angles or offsets) reads back with its own values, the new keys at what those runs did."""
    d = Sweep.load(REPO / "config" / "config.yaml").to_dict()
    recon = d["orientation"]["reconstruction"]
    del recon["auto"], d["fit"]["fields"]["angles"], d["fit"]["fields"]["offsets"]
    recon.update(lambda_rel=0.01, snr_threshold=5, weighting="none")
    (tmp_path / "old.json").write_text(json.dumps(d))
    old = Sweep.read(tmp_path / "old.json")
    r = old.orientation.reconstruction
    assert (r.lambda_rel, r.snr_threshold, r.weighting) == (0.01, 5, "none") and r.auto.scans == 6
    assert (old.fit.fields.angles, old.fit.fields.offsets) == (None, None)  # those fits used all rows


@pytest.mark.workflow
@pytest.mark.parametrize("patch,key", [
    ({"grids": {"diameters": [20, 22], "anisotropies": [500], "angles": [0]}, "particle": {"temprature": 300}},
     "particle.temprature"),
    ({"grids": {"diameters": [20, 22], "anisotropies": [500], "angles": [0]},
      "offsets": {"x": {"min": -1, "max": 1, "count": 2.5}}},
     "offsets.x.count"),
    ({"grids": {"diameters": [-20, 22], "anisotropies": [500], "angles": [0]}}, "grids.diameters[0]"),
])
def test_snakemake_rejects_bad_config_naming_the_key(tmp_path, patch, key):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(patch))
    start = time.perf_counter()
    out = run_snakemake(tmp_path, "-n", configfiles=[str(cfg)], timeout=300)
    elapsed = time.perf_counter() - start
    assert out.returncode != 0
    assert f"config key '{key}'" in out.stdout + out.stderr
    assert elapsed < 30


@pytest.mark.workflow
def test_paper_grid_plans_720_simulate_jobs(tmp_path):
    start = time.perf_counter()
    out = run_snakemake(tmp_path, "-n", configfiles=[str(REPO / "config" / "paper.yaml")], timeout=300)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    counts = {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", text, flags=re.M)}
    assert counts["simulate"] == 720
    assert counts["virtual_component"] == 3 and counts["fit"] == 1
    assert elapsed < 60


def test_a_number_yaml_reads_as_text_gets_the_hint(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(MINIMAL) + "solver: {rtol: 1e-5}\n")  # YAML 1.1: no dot, so a string
    with pytest.raises(ConfigError, match=r"'solver.rtol'.*YAML reads 1e-5 as text.*\(1\.0e-5\)"):
        Sweep.load(path)


@pytest.mark.workflow
def test_snakemake_rejects_a_key_written_twice_in_a_configfile(tmp_path):
    cfg = tmp_path / "twice.yaml"
    cfg.write_text("solver:\n  rtol: 1.0e-5\nsolver:\n  degree: 20\n")  # Snakemake's loader would keep the second
    out = run_snakemake(tmp_path, "-n", configfiles=[str(cfg)], timeout=300)
    assert out.returncode != 0
    assert f"config file {cfg}: config key 'solver' appears twice (lines 1 and 3)" in out.stdout + out.stderr


def test_the_api_degree_limit_is_the_schema_default():
    from mpisweep.physics.solver import MAX_DEGREE
    from mpisweep.sweep.schema import schema_default

    assert schema_default("solver", "max_degree") == MAX_DEGREE


# ------------------------------------------------------------------ sections, faults, a key added
OVERLAYS = {"refine/example.yaml", "refine/paper.yaml"}  # layered over another config (see their headers)


@pytest.mark.parametrize("name", sorted(set(p.relative_to(REPO / "config").as_posix()
                                            for p in (REPO / "config").rglob("*.yaml")) - OVERLAYS))
def test_every_shipped_config_round_trips_section_by_section(name):
    """Each section writes its JSON form and reads it back: the resolved config is the same, hash and all."""
    sweep = Sweep.load(REPO / "config" / name)
    back = Sweep.from_dict(json.loads(json.dumps(sweep.to_dict())))
    assert back.to_dict() == json.loads(json.dumps(sweep.to_dict()))
    assert back.config_hash == sweep.config_hash


@pytest.mark.parametrize("overlay, base", [("refine/example.yaml", "refine/validation.yaml"),
                                           ("refine/paper.yaml", "paper.yaml")])
def test_every_shipped_overlay_resolves_over_its_base(overlay, base):
    """An overlay as its header says to run it: merged over its base (Snakemake merges --configfile left to right)."""
    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    configs = [yaml.safe_load((REPO / "config" / n).read_text()) for n in (base, overlay)]
    sweep = Sweep.load(merge(merge({}, configs[0]), configs[1]))
    assert sweep.refine.enabled and sweep.output == configs[1]["output"]


def test_measurement_and_orientation_are_typed():
    sweep = Sweep.load(REPO / "config" / "orientation.yaml")
    assert sweep.measurement.virtual.transfer_function.gain == (1.0, 0.8)  # per receive channel, filled
    assert sweep.measurement.mdf.channels == (0, 1)
    rec = sweep.orientation.reconstruction
    assert (rec.lambda_rel, rec.snr_threshold, rec.weighting) == ("auto", "auto", "auto")  # chosen per matrix set
    assert rec.auto.lambda_rel[0] == pytest.approx(0.001) and rec.auto.snr_threshold == (2, 5, 10, 20)
    assert sweep.orientation.phantoms.source == "virtual"
    with pytest.raises(AttributeError):
        sweep.orientation.reconstruction.lambda_rel = 1.0  # frozen


def test_section_defaults_are_the_schema_defaults():
    from mpisweep.sweep.refine import RefineSettings
    from mpisweep.sweep.schema import schema_default
    from mpisweep.sweep.sections.cluster import ClusterSettings

    r = schema_default("refine")
    assert RefineSettings() == RefineSettings.from_config(r)
    assert RefineSettings().weight_threshold == r["weight_threshold"]
    assert ClusterSettings() == ClusterSettings.from_config(schema_default("cluster"))
    assert Sweep.load(MINIMAL).refine == RefineSettings()


@pytest.mark.parametrize("patch,key", [
    ({"refine": {"weight_threshold": float("nan")}}, "refine.weight_threshold"),
    ({"refine": {"margin": float("inf")}}, "refine.margin"),
    ({"frequencies": {"snr_threshold": float("nan")}}, "frequencies.snr_threshold"),
    ({"orientation": {"gradient": [float("nan"), -1.0]}}, "orientation.gradient[0]"),
    ({"scanner": {"phases": [float("inf"), 0.0]}}, "scanner.phases[0]"),
    ({"scanner": {"drive": [float("nan"), 12.0]}}, "scanner.drive[0]"),
    ({"offsets": {"z": {"min": float("nan"), "max": 0, "count": 1}}}, "offsets.z.min"),
    ({"particle": {"viscosity": float("nan")}}, "particle.viscosity"),
])
def test_non_finite_values_are_refused_naming_the_key(patch, key):
    with pytest.raises(ConfigError, match=re.escape(f"config key '{key}'") + ".*not a finite number"):
        resolved({**MINIMAL, **patch})


def test_non_finite_yaml_values_are_refused_naming_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(MINIMAL) + "refine: {weight_threshold: .nan}\n")
    with pytest.raises(ConfigError, match=r"'refine.weight_threshold': nan is not a finite number"):
        Sweep.load(path)


@pytest.mark.parametrize("content", [b"grids: {diameters: [20]}\noutput: r\xe9sultats\n", b"\x89PNG\r\n\x1a\n\x00\xff"])
def test_a_config_that_is_not_utf8_text_is_refused_naming_the_file(tmp_path, content):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(f"config file {path}: not UTF-8 text")):
        Sweep.load(path)


def test_refine_max_blocks_below_the_coarse_round_is_refused():
    cfg = {"grids": {"diameters": [18, 20, 22, 24, 26], "anisotropies": [500, 1000, 1500, 2000, 2500],
                     "angles": [0]}, "refine": {"enabled": True, "coarse_step": 2, "max_blocks": 1}}
    with pytest.raises(ConfigError, match=r"'refine.max_blocks': 1 is below the 9 blocks of the coarse round"):
        resolved(cfg)
    assert Sweep.load({**cfg, "refine": {**cfg["refine"], "max_blocks": 9}}).refine.max_blocks == 9


def test_a_round_at_the_block_cap_says_so():
    """The cap is the stop's reason even when it leaves no room for new blocks (not "no new blocks")."""
    import numpy as np

    from mpisweep.sweep.refine import Answer, RefineSettings, decide

    eps = np.full((5, 5), np.nan)
    done = {(i, j) for i in (0, 2, 4) for j in (0, 2, 4)}
    for i, j in done:
        eps[i, j] = 1.0 + abs(i - 2) + abs(j - 2)
    answer = Answer((2, 2), np.zeros((5, 5)))
    capped = decide(eps, [], done, RefineSettings(enabled=True, max_blocks=9), answer, 0)
    assert capped.entries == [] and capped.stop == "refine.max_blocks = 9 reached"
    going = decide(eps, [], done, RefineSettings(enabled=True, max_blocks=12), answer, 0)
    assert len(going.entries) == 3 and going.stop == ""


def test_field_scale_is_a_typed_key_left_out_of_the_hash_when_not_set():
    """measurement.virtual.field_scale: the worked example of adding a key (schema, section, docs line)."""
    import numpy as np

    from mpisweep.sweep.specs import component_spec

    plain = Sweep.load(MINIMAL)
    assert plain.virtual.field_scale is None and "field_scale" not in plain.to_dict()["measurement"]["virtual"]
    scaled = Sweep.load({**MINIMAL, "measurement": {"virtual": {"field_scale": {"offsets": [1.07, 1.07]}}}})
    scale = scaled.virtual.field_scale
    assert scale.offsets == (1.07, 1.07) and scale.drive == (1, 1, 1)  # the schema's default filled in
    assert scaled.config_hash != plain.config_hash
    assert Sweep.from_dict(json.loads(json.dumps(scaled.to_dict()))) == scaled
    comp = dict(scaled.components[0][1])
    assert digest(component_spec(scaled, comp)) != digest(component_spec(plain, comp))  # components re-simulate
    excitation, offsets = scale.apply(scaled.excitation, scaled.offsets)
    assert excitation.amplitudes == scaled.excitation.amplitudes
    assert np.allclose(offsets[..., :2], 1.07 * scaled.offsets[..., :2]) and np.all(offsets[..., 2] == 0)
    drive = scaled.virtual.field_scale.__class__(offsets=(1.0,), drive=(0.96,))
    assert drive.apply(scaled.excitation, scaled.offsets)[0].amplitudes == pytest.approx(
        (0.96 * 12.59e-3, 13.55e-3))


def test_orientation_on_another_geometry_names_the_key_that_makes_it_so():
    cfg = {**MINIMAL, "orientation": {"enabled": True, "field_of_view": [30, 30]},
           "offsets": {"z": {"min": 5, "max": 5, "count": 1}}}
    with pytest.raises(ConfigError, match=r"config key 'offsets.z': orientation imaging works on the paper's "
                                          r"geometry only \(an x-y offset grid at z = 0\)"):
        resolved(cfg)


def test_a_grid_too_large_to_plan_is_refused_at_once():
    cfg = {"grids": {"diameters": {"start": 1, "stop": 400000, "step": 1}, "anisotropies": [500, 1000, 1500],
                     "angles": [0]}}
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"'grids.diameters': 400000 diameters × 3 anisotropies = 1200000 blocks"):
        resolved(cfg)
    assert time.perf_counter() - start < 20


def test_a_dynamic_range_tightens_the_automatic_tolerance_and_only_then_enters_the_hash():
    from mpisweep.physics.accuracy import rtol_for_range
    from mpisweep.physics.solver import particle_rtol

    plain = Sweep.load(MINIMAL)
    assert plain.solver.dynamic_range_db is None and "dynamic_range_db" not in plain.to_dict()["solver"]
    contract = Sweep.load({**MINIMAL, "solver": {"dynamic_range_db": 80}})
    particle = contract.particle(20, 1100)
    assert contract.solver_rtol(particle) == min(particle_rtol(particle), rtol_for_range(80, particle.sigma))
    assert contract.solver_rtol(particle) < plain.solver_rtol(particle)
    assert digest(dictionary_spec(contract)) != digest(dictionary_spec(plain))  # blocks are simulated again
    fixed = Sweep.load({**MINIMAL, "solver": {"dynamic_range_db": 80, "rtol": 1e-3}})
    assert fixed.solver_rtol(particle) == 1e-3  # an explicit rtol wins
    with pytest.raises(ConfigError, match=r"'solver.dynamic_range_db'"):
        resolved({**MINIMAL, "solver": {"dynamic_range_db": -3}})
