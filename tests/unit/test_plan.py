import shutil

from mfgstudy import plan


def test_code_hash_follows_the_modules_a_rule_runs(tmp_path, monkeypatch):
    pkg = tmp_path / "mfgstudy"
    shutil.copytree(plan.PACKAGE_DIR, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(plan, "PACKAGE_DIR", pkg)
    before = {rule: plan.code_hash(rule) for rule in plan.CODE}
    with open(pkg / "samplers.py", "a") as f:
        f.write("\n# an edit to a sampler\n")
    after = {rule: plan.code_hash(rule) for rule in plan.CODE}
    changed = {rule for rule in plan.CODE if before[rule] != after[rule]}
    assert changed == {"sample", "evaluate"}  # sampling and what reads samplers; not training


def test_units_enumerate_the_product_of_a_sweep():
    config = {
        "seeds": [0, 1],
        "sweeps": {"s": {"datasets": ["a"], "methods": ["m", "n"], "samplers": ["x"],
                         "grids": ["u", "v"], "steps": [2], "n_samples": 4}},
    }  # fmt: skip
    units = plan.units(config)
    assert len(units) == 2 * 2 * 2
    assert plan.SAMPLES.format(**units[0].wildcards) == "results/samples/s/a/m/seed0/x/u"
