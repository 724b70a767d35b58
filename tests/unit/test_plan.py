from mfgstudy.layout import UNPERTURBED
from mfgstudy.pipeline import compute, specs_studies, specs_units, targets
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.pipeline.paths import REPO_ROOT, SAMPLES, sweep_eps


def test_units_enumerate_the_product_of_a_sweep():
    config = {
        "seeds": [0, 1],
        "sweeps": {"s": {"datasets": ["a"], "methods": ["m", "n"], "samplers": ["x"],
                         "grids": ["u", "v"], "steps": [2], "n_samples": 4}},
    }  # fmt: skip
    units = targets.units(config)
    assert len(units) == 2 * 2 * 2
    # a unit job's folder: every eps of the unit inside
    assert SAMPLES.format(**units[0].wildcards) == "results/samples/s/a/m/seed0/x/u"


def test_a_perturbation_sweep_adds_one_unit_per_positive_eps_and_shares_eps0():
    config = {
        "seeds": [0],
        "perturbations": {"c": {"kind": "constant"}, "a": {"kind": "adversarial"}},
        "sweeps": {"s": {"datasets": ["a"], "methods": ["m"], "samplers": ["x"], "grids": ["u"],
                         "steps": [2], "n_samples": 4, "perturbations": ["c", "a"],
                         "eps": [0.0, 0.05, 0.01, 0.05]}},
    }  # fmt: skip
    units = targets.units(config)
    assert [u.eps for u in units] == ["0", "0.01", "0.05"]
    assert specs_units.perturbations_at(config, "s", "0") == {UNPERTURBED: {"kind": "none"}}
    assert list(specs_units.perturbations_at(config, "s", "0.05")) == ["c", "a"]
    # one unit job for them all, its values in eps order (eps 0 first: the others use it)
    unit = {k: v for k, v in units[0].wildcards.items() if k != "eps"}
    assert targets.unit_jobs(config) == [unit]
    # the wildcard values the rules expand their literal templates over (collect's inputs)
    assert targets.columns(targets.unit_jobs(config)) == {k: [v] for k, v in unit.items()}
    assert targets.floor_jobs(config) == [{"sweep": "s", "dataset": "a"}]
    assert sweep_eps(config["sweeps"]["s"]) == ["0", "0.01", "0.05"]


def test_a_method_may_bring_its_own_forward_process():
    import yaml

    with open(REPO_ROOT / "config.yaml") as f:
        cfg = yaml.safe_load(f)
    wc = {"sweep": "hjb_checkerboard", "dataset": "checkerboard", "method": "hjb_terminal",
          "sampler": "em", "grid": "uniform", "eps": "0"}  # fmt: skip
    assert specs_units.sample_spec(cfg, wc)["sde"]["T"] == 3.0 != cfg["sde"]["T"]
    assert specs_units.train_spec(cfg, "checkerboard", "hjb_terminal")["sde"]["beta_min"] == 1.0
    assert specs_units.train_spec(cfg, "checkerboard", "ddpm")["sde"] == cfg["sde"]
    conc = specs_studies.study_spec(cfg, "concentration")
    assert conc["distance"] == {"exact_ou": "support_distance_mean",
                                "exact_ou_empirical": "train_distance_mean"}  # fmt: skip
    assert specs_studies.study_spec(cfg, "memorisation")["n_train"]["checkerboard_m16"] == 16


def _wc(dataset):
    from types import SimpleNamespace

    return SimpleNamespace(dataset=dataset)


def test_job_resources_take_per_data_set_overrides_and_keep_one_task_per_job():
    config = {
        "threads": 2,
        "resources": {"train": {"gpu": 0, "mem_mb": 4000, "runtime": 60, "cpus_per_gpu": 8,
                                "by_dataset": {"cifar10": {"gpu": 2, "runtime": 2880}}}},
    }  # fmt: skip
    res = compute.job_resources(config, "train")
    cpu, gpu = _wc("gmm8"), _wc("cifar10")
    assert [res[k](cpu) for k in ("gpu", "mem_mb", "runtime", "cpus_per_gpu")] == [0, 4000, 60, 0]
    assert [res[k](gpu) for k in ("gpu", "mem_mb", "runtime", "cpus_per_gpu")] == [2, 4000, 2880, 8]
    assert res["tasks_per_gpu"] == 0  # the SLURM plugin then starts the command once
    assert compute.launcher(config, "gmm8") == "python"
    assert compute.launcher(config, "cifar10") == "torchrun --standalone --nproc_per_node=2"


def test_a_method_spec_holds_only_its_data_sets_network():
    config = {
        "datasets": {"digits": {"kind": "digits"}, "cifar10": {"kind": "cifar10"}},
        "methods": {"m": {"kind": "ddpm", "net": {"images": {"kind": "unet"},
                                                  "cifar10": {"kind": "ddpm_unet"}},
                          "train": {"images": {"steps": 1}, "cifar10": {"steps": 2}}}},
    }  # fmt: skip
    method_spec = specs_units.method_spec
    assert method_spec(config, "digits", "m")["net"] == {"images": {"kind": "unet"}}
    assert method_spec(config, "cifar10", "m")["net"] == {"images": {"kind": "ddpm_unet"}}
    assert method_spec(config, "cifar10", "m")["train"] == {"images": {"steps": 2}}


def test_digits_features_and_the_classifier_belong_to_the_digits_data_set():
    config = {
        "datasets": {"digits": {"kind": "digits"}, "cifar10": {"kind": "cifar10"},
                     "gmm8": {"kind": "gaussian_mixture"}},
        "image_metrics": {"features": ["digits", "inception"]},
    }  # fmt: skip
    assert specs_units.features_of(config, "digits") == ["digits", "inception"]
    assert specs_units.features_of(config, "cifar10") == ["inception"]
    assert specs_units.features_of(config, "gmm8") == []
    assert targets.has_classifier(config, "digits")
    assert not targets.has_classifier(config, "cifar10")


def test_the_readings_table_names_each_mfg_method_by_its_switches():

    config = resolve("workflow/configs/paper.yaml")  # the full readings screen
    spec = specs_studies.mfg_readings_spec(config)
    r = spec["readings"]
    assert r["mfg"] == "default" and "ddpm" not in r  # DDPM is the baseline, not a reading
    assert r["mfg_value_off"] == "value_target=off"
    assert r["mfg_score_loss"] == "time_sampling=fixed, weighting=constant"
    assert r["mfg_lambda_10"] == "lambda=10.0"
    assert set(spec["sweeps"]) <= set(config["sweeps"])


def test_a_job_asking_for_a_gpu_asks_for_cuda():
    """A job whose resources say gpu >= 1 gets --device cuda (it runs on a GPU or stops, naming
    its node); the others keep auto; `gpu_device: auto` only for fake-GPU test clusters."""
    config = {}
    devices = [compute.job_device(config, g) for g in (0, None, 1, 2)]
    assert devices == ["auto", "auto", "cuda", "cuda"]
    assert compute.job_device({"gpu_device": "auto"}, 1) == "auto"
    assert compute.job_device({"gpu_device": "auto"}, 0) == "auto"
