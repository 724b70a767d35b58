"""Config overlays (mfgstudy.pipeline.config_files): merge rules, extends chains, errors that name
the file and the fix, and the repository's overlays resolving to valid whole configs."""

from pathlib import Path

import pytest
import yaml

from mfgstudy.errors import ConfigError
from mfgstudy.pipeline.config_files import load, merge, resolve
from mfgstudy.strict_yaml import DuplicateKeyError

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, doc) -> Path:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path


def test_merge_rules():
    base = {"a": {"x": 1, "y": [1, 2], "z": {"deep": 1, "keep": 2}}, "b": 3, "c": None}
    overlay = {"a": {"y": [3], "z": {"deep": 5}}, "b": None, "d": {"new": 1}}
    out = merge(base, overlay)
    # mappings merge at every depth, lists replace, None removes, new keys are added
    assert out == {"a": {"x": 1, "y": [3], "z": {"deep": 5, "keep": 2}}, "c": None,
                   "d": {"new": 1}}  # fmt: skip
    assert base["a"]["z"] == {"deep": 1, "keep": 2} and base["b"] == 3  # inputs unchanged
    out["a"]["y"].append(9)
    assert overlay["a"]["y"] == [3]  # no shared lists between the result and its inputs
    # a mapping replaces a scalar, a scalar replaces a mapping
    assert merge({"k": 1}, {"k": {"m": 2}}) == {"k": {"m": 2}}
    assert merge({"k": {"m": 2}}, {"k": 1}) == {"k": 1}


def test_extends_chains_resolve_base_first(tmp_path):
    _write(tmp_path / "base.yaml", {"study": "base", "seeds": [0, 1, 2], "s": {"n": 10, "m": 1}})
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub/mid.yaml", {"extends": "../base.yaml", "study": "mid", "s": {"n": 5}})
    top = _write(tmp_path / "top.yaml", {"extends": "sub/mid.yaml", "study": "top",
                                         "s": {"m": None}})  # fmt: skip
    assert resolve(top) == {"study": "top", "seeds": [0, 1, 2], "s": {"n": 5}}
    # several files in order, then --config overrides, where None is a value
    extra = _write(tmp_path / "extra.yaml", {"seeds": [7]})
    assert load([top, extra], {"s": {"n": None}}) == {"study": "top", "seeds": [7],
                                                      "s": {"n": None}}  # fmt: skip


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"a.yaml": {"extends": "b.yaml"}, "b.yaml": {"extends": "a.yaml"}}, "round in a circle"),
        ({"a.yaml": {"extends": "missing.yaml"}}, "there is no file"),
        ({"a.yaml": {"extends": 3}}, "must be the path"),
        ({"a.yaml": "- a list\n- not a mapping\n"}, "must be a mapping"),
    ],
)
def test_bad_overlays_are_refused_naming_the_file_and_the_fix(tmp_path, files, words):
    for name, doc in files.items():
        _write(tmp_path / name, doc)
    with pytest.raises(ConfigError, match=words) as e:
        resolve(tmp_path / "a.yaml")
    assert str(tmp_path / "a.yaml") in str(e.value)


def test_a_duplicate_key_in_a_base_is_refused(tmp_path):
    _write(tmp_path / "base.yaml", "study: a\nseeds: [0]\nseeds: [1]\n")
    top = _write(tmp_path / "top.yaml", {"extends": "base.yaml"})
    with pytest.raises(DuplicateKeyError, match="base.yaml:3"):
        resolve(top)


@pytest.mark.parametrize("name", ["smoke", "laboratory", "paper"])
def test_the_repository_configs_are_overlays_of_the_default(name):
    path = ROOT / "workflow/configs" / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text())
    default = resolve(ROOT / "config.yaml")
    config = resolve(path)
    assert "extends" in raw and "extends" not in config
    assert config["study"] == name and default["study"] == "default"
    # an overlay states less than the whole config it resolves to
    assert len(path.read_text().splitlines()) < len((ROOT / "config.yaml").read_text().splitlines())


def test_the_overlays_state_what_they_change():
    smoke = resolve(ROOT / "workflow/configs/smoke.yaml")
    lab = resolve(ROOT / "workflow/configs/laboratory.yaml")
    paper = resolve(ROOT / "workflow/configs/paper.yaml")
    default = resolve(ROOT / "config.yaml")
    assert "methods_digits" in default["sweeps"] and "methods_digits" not in smoke["sweeps"]
    assert smoke["methods"]["ddpm"]["net"]["points"]["width"] == 32  # tiny, merged key by key
    assert smoke["methods"]["ddpm"]["net"]["points"]["kind"] == "mlp"  # the default's
    assert lab["sweeps"]["hjb_checkerboard"]["methods"][-1] == "hjb_pinn_p1"
    assert lab["methods"]["hjb_plain"]["train"]["points"]["steps"] == 60000
    assert lab["sweeps"]["w2_vs_steps"] == smoke["sweeps"]["w2_vs_steps"]  # the smoke's DAG
    # the paper config inherits what the default study gains (here: its seeds, Proposition 6)
    assert paper["sweeps"]["concentration"]["seeds"] == default["sweeps"]["concentration"]["seeds"]
    assert "proposition6" in paper["sweeps"]
    assert paper["methods"]["mfg_value_off"]["net"]["cifar10"]["ch"] == 160
    assert paper["methods"]["mfg_value_off"]["readings"] == {"value_target": "off"}
