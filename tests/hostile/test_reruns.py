"""Issue 24: a job reruns only on edits of code it runs. The floor and reference jobs lived in the
evaluate job's module, so their code hash covered the samplers and the W2 estimators that only
the evaluate job uses: editing ``core/samplers.py`` reran every floor and reference."""

from mfgstudy.code_closure import _hash, closure, code_hash, job_modules


def _modules(verb: str) -> set[str]:
    return {p.relative_to(p.parents[1]).as_posix() for p in closure(job_modules(verb))}


def test_the_floor_and_reference_jobs_do_not_depend_on_the_samplers():
    for verb in ("floor", "reference"):
        assert "core/samplers.py" not in _modules(verb), verb
        assert "analysis/convergence.py" not in _modules(verb), verb
    assert "metrics/w2.py" not in _modules("reference")
    assert "metrics/w2.py" in _modules("floor")  # W2's floor is its business
    assert "core/samplers.py" in _modules("evaluate")  # the check can fail


def test_editing_the_samplers_changes_the_evaluate_hash_only(tmp_path):
    import shutil
    from pathlib import Path

    import mfgstudy

    root = tmp_path / "mfgstudy"
    shutil.copytree(Path(mfgstudy.__file__).parent, root)
    before = {v: code_hash(v, root=root) for v in ("floor", "reference", "evaluate")}
    samplers = root / "core" / "samplers.py"
    samplers.write_text(samplers.read_text() + "\n# an edit\n")
    _hash.cache_clear()  # the hash is cached per process: the files changed
    after = {v: code_hash(v, root=root) for v in before}
    assert after["floor"] == before["floor"] and after["reference"] == before["reference"]
    assert after["evaluate"] != before["evaluate"]
