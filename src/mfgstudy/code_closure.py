"""Which package code a job runs: the import closure of its entry module, and its hash.

Snakemake's "code" trigger sees only a rule's own shell line, not the package it calls. Each
rule therefore passes, as a parameter, the hash of every ``mfgstudy`` module its job can import
(found by reading the ``import`` statements, functions' lazy imports included, from the verb's
module outward), so editing a module reruns exactly the jobs that import it. Methods are the one
import the statements do not show: the registry imports ``mfgstudy.methods.<kind>`` by the kind
a job's spec names, so a job's closure adds the modules of the methods its spec names
(:func:`spec_modules`), and editing one method reruns only that method's jobs; likewise the
module of a sampler kind that a method's module brings (``mfgstudy.registry``). The job checks the
hash again against the package Python actually imported (:func:`verify`), and after its work
that it imported no package module outside the closure (:func:`check_imported`): a job never
runs other code than the one its results will be recorded under.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from mfgstudy.errors import UserError
from mfgstudy.registry import SAMPLERS
from mfgstudy.verbs import VERBS

PACKAGE = "mfgstudy"
PACKAGE_DIR = Path(__file__).resolve().parent
# the bookkeeping that computes this hash is not part of any job's science: adding a verb or
# changing how the hash is taken must not rerun every job
NOT_SCIENCE = {f"{PACKAGE}.code_closure", f"{PACKAGE}.verbs"}


class CodeMismatchError(UserError):
    """The package a job imported is not the code the workflow planned it with."""


def _module_file(root: Path, name: str) -> Path | None:
    """The source file of module ``name`` (dotted, inside the package at ``root``), if any."""
    parts = name.split(".")[1:]
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (imports for type
    annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imported(root: Path, name: str, path: Path) -> set[str]:
    """The package modules that module ``name`` (file ``path``) imports, anywhere in its body."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from .a import b
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # kept if it is a module
    found = set()
    for mod in out:
        if mod == PACKAGE or mod.startswith(PACKAGE + "."):
            parts = mod.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                if _module_file(root, ".".join(parts[:i])) is not None:
                    found.add(".".join(parts[:i]))
    return found


def own_loop(method_module: str, root: Path = PACKAGE_DIR) -> str | None:
    """The training loop a method module's class names as its own (``loop = "algorithm1"`` in
    the class body: ``training.algorithm1``), read from the source; None for the shared loop."""
    path = _module_file(root, f"{PACKAGE}.{method_module}")
    if path is None:
        return None
    classes = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef)]
    for stmt in (s for c in classes for s in c.body):
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        else:
            continue
        named = any(isinstance(t, ast.Name) and t.id == "loop" for t in targets)
        if named and isinstance(stmt.value, ast.Constant) and stmt.value.value != "shared":
            return f"training.{stmt.value.value}"
    return None


def _sampler_specs(node: dict) -> list:
    """The sampler specs of a spec node: ``"sampler": {...}`` and ``"samplers": {name: {...}}``."""
    one, named = node.get("sampler"), node.get("samplers")
    specs = [one] + (list(named.values()) if isinstance(named, dict) else [])
    return [s for s in specs if isinstance(s, dict) and isinstance(s.get("kind"), str)]


def spec_modules(spec, root: Path = PACKAGE_DIR) -> tuple[str, ...]:
    """The modules a job with this spec imports by name: ``methods.<kind>`` for every
    ``"method": {"kind": ...}`` anywhere in the spec, and the method's own training loop where
    it names one (:func:`own_loop`); the module that registers a sampler kind the spec names,
    where a method's module brings it (``mfgstudy.registry``), sorted."""
    declared = SAMPLERS.declared(root)
    found, todo = set(), [spec]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            method = node.get("method")
            if isinstance(method, dict) and isinstance(method.get("kind"), str):
                module = f"methods.{method['kind']}"
                found |= {module, own_loop(module, root)} - {None}
            for sampler in _sampler_specs(node):
                module = declared.get(sampler["kind"])
                if module is not None and module.startswith("methods."):
                    found |= {module, own_loop(module, root)} - {None}
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return tuple(sorted(found))


def closure(modules: str | Iterable[str], root: Path = PACKAGE_DIR) -> list[Path]:
    """Source files of ``mfgstudy.<module>`` (one or several) and of every package module they
    import, transitively (the package's ``__init__`` included), sorted."""
    todo = []
    for m in [modules] if isinstance(modules, str) else modules:  # with their packages
        parts = m.split(".")
        todo += [".".join([PACKAGE, *parts[:i]]) for i in range(1, len(parts) + 1)]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name in NOT_SCIENCE:
            continue
        seen.add(name)
        path = _module_file(root, name)
        if path is None:
            raise ModuleNotFoundError(f"{name}: no such module under {root}")
        todo.extend(_imported(root, name, path) - seen)
    return sorted(_module_file(root, n) for n in seen)


@cache
def _hash(modules: tuple[str, ...], root: Path) -> str:
    h = hashlib.sha256()
    for f in closure(modules, root):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def job_modules(verb: str, spec=None, root: Path = PACKAGE_DIR) -> tuple[str, ...]:
    """The entry modules of a ``python -m mfgstudy <verb>`` job with this spec: the verb's
    module and the methods the spec names."""
    if verb not in VERBS:
        raise KeyError(f"{verb!r} is not a CLI verb (mfgstudy.verbs.VERBS)")
    return (VERBS[verb][0], *spec_modules(spec, root))


def code_hash(verb: str, spec=None, root: Path = PACKAGE_DIR) -> str:
    """Hash of the source a ``python -m mfgstudy <verb>`` job with this spec runs (the import
    closure of the verb's module and of the methods the spec names)."""
    return _hash(job_modules(verb, spec, root), root)


def verify(verb: str, expected: str, spec=None) -> None:
    """Refuse to run when the imported package's code is not the code the job was planned with
    (an install of another checkout, or a module edited after Snakemake built its DAG)."""
    found = code_hash(verb, spec)
    if found != expected:
        raise CodeMismatchError(
            f"this {verb} job was planned with code {expected}, but Python imported "
            f"{PACKAGE} from {PACKAGE_DIR}, whose code for it is {found}: either that is not "
            "the checkout whose Snakefile you ran (install the checkout with "
            "`pip install -e <checkout>`), or its source changed after Snakemake planned the "
            "job (run snakemake again: the changed jobs rerun)"
        )


def check_imported(verb: str, spec=None) -> None:
    """After a job's work: every package module it imported is in its code hash (or is the
    command line's own). A module outside it is a dynamic import the hash missed, so its edits
    would not rerun the job: a bug here, reported rather than left to stale results."""
    allowed = {str(f) for f in closure([*job_modules(verb, spec), "__main__", "cli"])}
    # the bookkeeping's own imports: the registry, whose kinds spec_modules reads (a job that
    # builds samplers or nets imports it anyway, and has it in its hash)
    bookkeeping = NOT_SCIENCE | {f"{PACKAGE}.registry"}
    allowed |= {str(_module_file(PACKAGE_DIR, n)) for n in bookkeeping}
    missed = sorted(
        name
        for name, mod in list(sys.modules.items())
        if (name == PACKAGE or name.startswith(PACKAGE + "."))
        and getattr(mod, "__file__", None)
        and str(Path(mod.__file__).resolve()) not in allowed
    )
    if missed:
        raise RuntimeError(
            f"the {verb} job imported {missed}, which its code hash does not cover "
            "(mfgstudy.code_closure.job_modules): edits there would not rerun it. Import them "
            "with an import statement, or add them to job_modules"
        )
