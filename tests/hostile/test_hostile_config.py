"""Issue 13, config cases: hostile names, `..` names, duplicate YAML keys, eps collisions, and a
missing injection method. Each is rejected before any job, with one message naming the key."""

import shlex
from pathlib import Path

import pytest
import yaml

from mfgstudy.errors import ConfigError
from mfgstudy.pipeline import commands, names, targets
from mfgstudy.pipeline.config_files import resolve
from mfgstudy.pipeline.paths import CLAIMS_NAMES, REPO_ROOT, eps_label, paths, sweep_eps
from tests.workflow.helpers import SMOKE, snakemake


def _config(tmp_path, mutate=None, text_suffix=""):
    cfg = resolve(SMOKE)
    if mutate:
        mutate(cfg)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False) + text_suffix)
    return cfg, path


def _rename(table, old, new, refs):
    """Rename ``old`` to ``new`` in config ``table`` and in every sweep list ``refs``."""

    def mutate(cfg):
        cfg[table][new] = cfg[table].pop(old)
        for sweep in cfg["sweeps"].values():
            if refs in sweep:
                sweep[refs] = [new if n == old else n for n in sweep[refs]]

    return mutate


def _first(key):
    return next(iter(resolve(SMOKE)[key]))


# "gmm8\n": a trailing newline passes re.match with "$" (issue 24); the planner uses fullmatch
HOSTILE = ["x$(touch PWNED)", "x;touch PWNED", "a b", "-rf", "..", ".", "a/b", ".hidden", "gmm8\n"]


@pytest.mark.parametrize(
    "table,name",
    [("sweeps", "x$(touch PWNED)"), ("datasets", ".."), ("methods", "-rf"),
     ("samplers", "a b;touch PWNED")],
)  # fmt: skip
def test_a_hostile_name_is_rejected_before_any_job_and_runs_nothing(tmp_path, table, name):
    refs = {"sweeps": None, "datasets": "datasets", "methods": "methods", "samplers": "samplers"}
    name = name.replace("PWNED", str(tmp_path / "pwned"))
    old = _first(table)
    if table == "sweeps":

        def mutate(cfg):
            cfg["sweeps"][name] = cfg["sweeps"].pop(old)
            for key in ("figure1",):
                if cfg["report"][key]["sweep"] == old:
                    cfg["report"][key]["sweep"] = name
    else:
        mutate = _rename(table, old, name, refs[table])
    _, path = _config(tmp_path, mutate)
    # a real run, not a dry-run: the injected command must not run in any case
    res = snakemake(tmp_path, "--cores", "1", configfile=str(path))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert f"{table}: the name {name!r} is not allowed" in out, out[-2000:]
    assert "Traceback" not in out
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize(
    "keys",
    [("datasets",), ("methods",), ("samplers",), ("grids",), ("perturbations",), ("sweeps",),
     ("robustness_exact", "laws")],
)  # fmt: skip
def test_every_name_table_rejects_hostile_names(keys, name):
    cfg = resolve(SMOKE)
    table = cfg
    for k in keys[:-1]:
        table = table.setdefault(k, {})
    table.setdefault(keys[-1], {})[name] = {}
    with pytest.raises(ConfigError, match=f"{'.'.join(keys)}: the name"):
        names.check_names(cfg)


def test_ordinary_names_pass():
    import re

    assert set(names.NAME_TABLES) == {
        ("datasets",),
        ("methods",),
        ("samplers",),
        ("grids",),
        ("perturbations",),
        ("sweeps",),
        ("robustness_exact", "laws"),
    }

    for ok in ("gmm8", "w2_vs_steps", "mfg_lambda_0.1", "ode-heun", "A1", "1e-3"):
        assert re.match(names.NAME_PATTERN, ok)
    names.check_names(resolve(SMOKE))


def test_the_schema_and_the_planner_share_one_name_pattern():
    schema = yaml.safe_load(Path("workflow/schemas/config.schema.yaml").read_text())
    assert schema["$defs"]["name"]["pattern"] == names.NAME_PATTERN
    for table in ("datasets", "methods", "samplers", "grids", "perturbations", "sweeps"):
        assert schema["properties"][table]["propertyNames"] == {"$ref": "#/$defs/name"}


def test_every_shell_argument_is_quoted():
    """Paths reach the shell quoted, whatever they contain: the option helper quotes, and no
    rule puts an input, output, log or path param into its shell line unquoted."""
    hostile = ["a b/model.pt", "x$(touch /tmp/pwned)/m.pt", "-rf"]
    assert shlex.split(commands.cli_option("--model", hostile)) == ["--model", *hostile]
    assert shlex.split(commands.cli_option("--model", hostile[1])) == ["--model", hostile[1]]
    assert commands.cli_option("--model", []) == ""
    import re

    for rules in Path("workflow/rules").glob("*.smk"):
        unquoted = re.findall(r"\{(?:input|output|log)(?:\.\w+)?\}", rules.read_text())
        assert not unquoted, f"{rules}: {unquoted} reach the shell unquoted"


def test_duplicate_yaml_keys_are_rejected_naming_file_and_lines(tmp_path):
    from mfgstudy import strict_yaml

    _, path = _config(tmp_path, text_suffix="seeds: [7]\n")
    with pytest.raises(strict_yaml.DuplicateKeyError, match=r"config.yaml:\d+: the key 'seeds'"):
        strict_yaml.load(path)
    res = snakemake(tmp_path, "-n", configfile=str(path))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "the key 'seeds' is given twice" in out and str(path) in out, out[-2000:]


def test_a_duplicate_key_in_a_claims_file_is_rejected(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("paper: x\nclaims: []\nclaims: []\n")
    from mfgstudy import strict_yaml
    from mfgstudy.report.claims.claims_files import load_claims

    with pytest.raises(strict_yaml.DuplicateKeyError, match="claims"):
        load_claims(str(path))


def test_eps_values_that_print_alike_get_their_own_folders(tmp_path):
    sweep = {"eps": [0.5, 0.5000001, 0.1, 1e-3, 1e-7, 1, 0.30000000000000004]}
    labels = sweep_eps(sweep)
    assert len(labels) == len(set(labels)) == 1 + len(sweep["eps"])
    assert {float(x) for x in labels} == {0.0, *map(float, sweep["eps"])}  # lossless
    # the labels of ordinary values are unchanged (existing results keep their paths)
    assert [eps_label(e) for e in (0.05, 0.001, 1e-4, 1.0, 0.1)] == [
        "0.05", "0.001", "0.0001", "1", "0.1",
    ]  # fmt: skip

    def mutate(cfg):
        sweep = next(s for s in cfg["sweeps"].values() if s.get("eps"))
        sweep["eps"] = [0.5, 0.5000001]

    cfg, path = _config(tmp_path, mutate)
    dirs = [f"{paths.samples.format(**u.wildcards)}/eps{u.eps}" for u in targets.units(cfg)]
    assert len(dirs) == len(set(dirs))
    assert any(d.endswith("/eps0.5") for d in dirs) and any(
        d.endswith("/eps0.5000001") for d in dirs
    )
    res = snakemake(tmp_path, "-n", configfile=str(path))
    assert res.returncode == 0, (res.stdout + res.stderr)[-2000:]


def test_a_missing_injection_method_is_named_as_missing(tmp_path):
    def mutate(cfg):
        cfg["injection"]["methods"] = ["no_such_method"]

    _, path = _config(tmp_path, mutate)
    res = snakemake(tmp_path, "-n", configfile=str(path))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "injection.methods: 'no_such_method' is not defined under 'methods'" in out, out[-2000:]


def _claims_file(path, ids, extra=""):
    claims = "".join(
        f"  - id: {i}\n    claimed: 1.0\n    rule: ratio_below\n"
        f"    measure: {{kind: k_ratio, method: mfg, baselines: [ddpm]}}\n{extra}"
        for i in ids
    )
    path.write_text(f"paper: x\nfidelity: {{}}\nclaims:\n{claims}")
    return str(path)


def test_a_repeated_claim_id_is_named_within_and_across_files(tmp_path):
    from mfgstudy.report.claims.claims_files import ClaimsFileError, check_claims_files

    one = _claims_file(tmp_path / "a.yaml", ["k1", "k2", "k1"])
    with pytest.raises(ClaimsFileError, match=r"a.yaml: the claim id 'k1' is given twice in this"):
        check_claims_files([one])
    a = _claims_file(tmp_path / "a.yaml", ["k1", "k2"])
    b = _claims_file(tmp_path / "b.yaml", ["k3", "k2"])
    with pytest.raises(ClaimsFileError, match=r"b.yaml: the claim id 'k2' is given also in .*a"):
        check_claims_files([a, b])
    check_claims_files([a, _claims_file(tmp_path / "c.yaml", ["k3"])])  # distinct ids pass


@pytest.mark.parametrize(
    "extra,message",
    [("    rule: ratio_above\n", "rule 'ratio_above' is not a verdict rule"),
     ("    claimed: .nan\n", "claimed must be a finite number"),
     ("    measure: {kind: k_ration}\n", "measure.kind 'k_ration' is not a measurement")],
)  # fmt: skip
def test_a_claim_that_cannot_be_judged_is_refused_naming_it(tmp_path, extra, message):
    from mfgstudy.report.claims.claims_files import ClaimsFileError, check_claims_files

    path = tmp_path / "a.yaml"
    text = _claims_file(path, ["k1"])
    # the extra line replaces the key it names (one mapping may not give a key twice)
    key = extra.split(":")[0].strip()
    lines = [ln for ln in Path(text).read_text().splitlines() if not ln.strip().startswith(key)]
    path.write_text("\n".join(lines) + "\n" + extra)
    with pytest.raises(ClaimsFileError, match=f"a.yaml: claim 'k1': {message}"):
        check_claims_files([str(path)])


def test_the_shipped_claims_files_pass_and_the_snakefile_checks_them_before_any_job():
    from mfgstudy.report.claims.claims_files import check_claims_files

    check_claims_files([f"workflow/claims/{n}" for n in CLAIMS_NAMES])
    call = "check_claims_files([str(REPO_ROOT / f) for f in specs_claims.claims_files(config)])"
    assert call in Path("Snakefile").read_text()


def test_the_claims_rule_names_its_claims_files_relative_to_the_working_directory(tmp_path):
    """Absolute paths among a rule's inputs change when the checkout moves, which reran the
    claims and the report (issue 24); relative ones move with it."""
    import re

    res = snakemake(tmp_path, "-n", "-p", "--until", "claims")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-2000:]
    (files,) = re.findall(r"--claims-files (.*?) --cube", out)
    paths = shlex.split(files)
    assert paths and all(not p.startswith("/") for p in paths), paths
    assert all((tmp_path / p).resolve() == Path(REPO_ROOT, "workflow", "claims",
                                                Path(p).name) for p in paths)  # fmt: skip
