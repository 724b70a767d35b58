"""The command line: each verb's options are its job function's parameters (``mfgstudy.cli``
reads them off the signature), and every rule's shell line uses only options its verb has."""

import inspect
import re
from pathlib import Path

import pytest

from mfgstudy.cli import build_parser, parameter_option, verb_options
from mfgstudy.verbs import VERBS

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"--threads", "--device", "--code"}


def _job(spec: dict, paths: list[str], out: str, seed: int = 0, every: float | None = None,
         model: str | None = None, extra: list[str] = ()):  # fmt: skip
    """A job function's signature, for the tests below."""


def _options():
    return dict(parameter_option(p) for p in inspect.signature(_job).parameters.values())


def test_the_options_follow_the_signature():
    o = _options()
    assert set(o) == {"--spec", "--paths", "--out", "--seed", "--every", "--model", "--extra"}
    assert o["--paths"]["nargs"] == "+" and o["--paths"]["required"]
    assert o["--extra"]["nargs"] == "*"
    assert o["--seed"]["type"] is int and o["--every"]["type"] is float
    assert o["--model"].get("required") is None and o["--out"]["required"]


def test_an_absent_option_leaves_the_functions_default():
    """Options with a default are left out of the call when absent, so the function's own
    default applies (written once)."""
    import argparse

    p = argparse.ArgumentParser()
    for flag, kw in _options().items():
        p.add_argument(flag, **kw)
    args = vars(p.parse_args(["--spec", "{}", "--paths", "a", "b", "--out", "o", "--model", "m"]))
    assert args == {"spec": "{}", "paths": ["a", "b"], "out": "o", "model": "m"}
    assert (
        vars(p.parse_args(["--spec", "{}", "--paths", "a", "--out", "o", "--seed", "3"]))["seed"]
        == 3
    )


def test_a_parameter_without_annotation_is_refused():
    def job(spec, out: str):
        pass

    with pytest.raises(TypeError, match="'spec'.*no annotation"):
        [parameter_option(p) for p in inspect.signature(job).parameters.values()]


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_has_a_parser(verb):
    options = verb_options(verb)
    assert options and not COMMON & set(options)
    build_parser(verb)


def _rule_commands():
    """(file, verb, flags) of every ``-m mfgstudy <verb>`` command in the rules."""
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = path.read_text()
        starts = list(re.finditer(r"-m mfgstudy ([a-z0-9-]+)", text))
        for i, m in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            rule_end = text.find("\nrule ", m.end())
            end = min(end, rule_end) if rule_end != -1 else end
            yield (
                path.name,
                m.group(1),
                set(re.findall(r"--[a-z0-9-]+(?=[ \"'])", text[m.end() : end])),
            )


def test_every_rule_uses_only_its_verbs_options():
    commands = list(_rule_commands())
    assert len(commands) >= 30
    for name, verb, flags in commands:
        known = set(verb_options(verb)) | COMMON
        assert flags <= known, (name, verb, flags - known)
