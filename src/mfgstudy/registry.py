"""Registries of config kinds, filled beside the classes they name.

A sampler kind is registered where its class is written, ``@register_sampler("ddim")`` in
``mfgstudy.core.samplers`` (or in a method's module: a method may bring its own sampler), a
network kind by ``@register_net("mlp")`` in ``mfgstudy.nets``. Nothing else lists the kinds:

* at run time the decorators fill the registry, and :meth:`Registry.get` imports the module
  that declares a kind (a method's module) before looking it up;
* the workflow planner, which imports no torch, reads the same kinds from the source of the
  registry's home modules (:meth:`Registry.declared`: every ``register_<what>("kind")`` call,
  nothing imported), and checks a config's kinds against them
  (``mfgstudy.pipeline.validation``); a job's code hash adds the module that declares a kind
  its spec names (``mfgstudy.code_closure.spec_modules``).

This module imports no torch and no other module of the package.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent


class Registry:
    """The kinds of one config section (``what``: "sampler", "net"), each a class or factory.

    ``homes`` are the modules (relative to ``mfgstudy``; ``"methods.*"`` is every module of that
    package) whose source may register kinds, with calls to the function named ``decorator``."""

    def __init__(self, what: str, homes: tuple[str, ...]):
        self.what, self.homes = what, homes
        self.decorator = f"register_{what}"
        self._built: dict[str, Callable[..., Any]] = {}

    def register(self, kind: str) -> Callable:
        """Decorator: the class or factory it decorates is ``kind``. The kind is a string
        literal (the planner reads it from the source)."""

        def add(obj):
            if kind in self._built and self._built[kind] is not obj:
                raise ValueError(f"{self.what} kind {kind!r} is registered twice")
            self._built[kind] = obj
            return obj

        return add

    def declared(self, root: Path = PACKAGE_DIR) -> dict[str, str]:
        """Every kind with the module that registers it, read from the homes' source."""
        return dict(_declared(self.decorator, self.homes, root))

    def kinds(self, root: Path = PACKAGE_DIR) -> list[str]:
        return sorted(self.declared(root))

    def get(self, kind: str) -> Callable[..., Any]:
        """The class or factory of ``kind``, its module imported if need be."""
        if kind not in self._built:
            module = self.declared().get(kind)
            if module is None:
                raise ValueError(f"unknown {self.what} kind {kind!r}; choose from {self.kinds()}")
            import_module(f"mfgstudy.{module}")
            if kind not in self._built:
                raise RuntimeError(
                    f"mfgstudy.{module} declares {self.what} {kind!r} but did not register it"
                )
        return self._built[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self.kinds())

    def __contains__(self, kind: object) -> bool:
        return kind in self.declared()

    def __len__(self) -> int:
        return len(self.declared())


def _home_files(homes: tuple[str, ...], root: Path) -> list[tuple[str, Path]]:
    out = []
    for home in homes:
        if home.endswith(".*"):
            package = home[:-2]
            folder = root.joinpath(*package.split("."))
            files = sorted(p for p in folder.glob("*.py") if p.stem != "__init__")
            out += [(f"{package}.{p.stem}", p) for p in files]
        else:
            out.append((home, root.joinpath(*home.split(".")).with_suffix(".py")))
    return out


@cache
def _declared(decorator: str, homes: tuple[str, ...], root: Path) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for module, path in _home_files(homes, root):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = getattr(f, "id", None) or getattr(f, "attr", None)  # f(...) or a.f(...)
            if name != decorator or not node.args:
                continue
            arg = node.args[0]
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise TypeError(
                    f"{path}:{node.lineno}: {decorator} takes the kind as a string literal "
                    "(the workflow planner reads it from the source)"
                )
            if arg.value in found and found[arg.value] != module:
                raise ValueError(
                    f"{decorator}({arg.value!r}) in both mfgstudy.{found[arg.value]} and "
                    f"mfgstudy.{module}"
                )
            found[arg.value] = module
    return tuple(sorted(found.items()))


SAMPLERS = Registry("sampler", ("core.samplers", "methods.*"))
NETS = Registry("net", ("nets",))
register_sampler = SAMPLERS.register
register_net = NETS.register
