"""The methods by config ``kind``: a method of kind ``k`` is the module ``mfgstudy.methods.k``,
whose ``METHOD`` is its :class:`~mfgstudy.methods.base.Method` class. Adding a method is adding
that module (and its config entry): nothing here lists the methods.

Modules are imported by kind, on demand, so a job imports only the methods its spec names, and
its code hash (``mfgstudy.code_closure``) covers only those.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mfgstudy.core.sde import VPSDE
    from mfgstudy.methods.base import Method

NOT_METHODS = {"__init__", "base", "registry"}  # the package's modules that are not methods


def kinds() -> list[str]:
    """Every method kind: the package's modules except the interface and this registry (read
    from the folder; nothing is imported)."""
    here = Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if p.stem not in NOT_METHODS)


def method_module(kind: str) -> str:
    """The module (relative to ``mfgstudy``) that defines method ``kind``."""
    if kind not in kinds():
        raise ValueError(f"unknown method kind {kind!r}; choose from {kinds()}")
    return f"methods.{kind}"


def method_class(kind: str) -> type[Method]:
    module = import_module(f"mfgstudy.{method_module(kind)}")
    cls = getattr(module, "METHOD", None)
    if cls is None:
        raise TypeError(f"{module.__file__}: a method module defines METHOD = <its Method class>")
    return cls


def build_method(spec: dict, sde: VPSDE) -> Method:
    return method_class(spec["kind"])(spec, sde)
