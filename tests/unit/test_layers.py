"""The package's layers import one way: each module imports only from its own layer or below, no
import circle, and the workflow planner is imported by no module of the package (only by the
Snakefile). Imports are read the way the code hashes read them (mfgstudy.code_closure: every
import statement, lazy ones inside functions too; `if TYPE_CHECKING:` blocks are annotations)."""

from mfgstudy import code_closure

# bottom to top; a module may import from its own layer and the ones before it
LAYERS = {
    "infrastructure": ["", "errors", "kinds", "layout", "device", "specs", "strict_yaml",
                       "cleanfid_compat", "store", "rates", "verbs", "registry", "code_closure"],
    "math core (no I/O)": ["core", "core.sde", "core.diffops", "metrics", "metrics.support",
                           "core.exact", "core.mixtures", "core.perturb"],
    # the samplers call a perturbation's for_batch (core.perturb, below); the adversarial ascent
    # integrates through them (above): no import runs both ways
    "samplers": ["core.samplers"],
    "adversarial ascent (through the samplers)": ["core.adversarial"],
    "networks": ["nets"],
    "metrics": ["metrics.w2", "metrics.mixture_w2", "metrics.gaussian", "metrics.memorisation",
                "metrics.fd", "metrics.features", "metrics.mixture_exact"],
    # every module of the package ("methods.*"): a new method is one module, listed nowhere
    "methods (loss and score)": ["methods", "methods.*"],
    "training": ["training", "training.checkpoint", "training.distributed", "training.shared",
                 "training.loop", "training.algorithm1", "training.fit"],
    "data sources": ["data"],
    "models on disk": ["models"],
    "analyses (no I/O)": ["analysis", "analysis.classifier", "analysis.convergence",
                          "analysis.injection", "analysis.mfg_equilibrium",
                          "analysis.robustness_exact", "analysis.cost_perturbation",
                          "analysis.proposition6_exact"],
    "jobs": ["jobs", "jobs.train", "jobs.classifier", "jobs.sample", "jobs.references",
             "jobs.floor", "jobs.evaluate", "jobs.unit",
             "jobs.convergence", "jobs.robustness_exact", "jobs.mfg_equilibrium", "jobs.injection",
             "jobs.collect", "jobs.cost_perturbation", "jobs.proposition6"],
    "report (reads stores)": ["report", "report.common", "report.paper", "report.robustness",
                              "report.hjb", "report.pde", "report.mfg", "report.claims",
                              "report.claims.verdicts", "report.claims.gates",
                              "report.claims.measures", "report.claims.measures.registry",
                              "report.claims.measures.common", "report.claims.measures.table1",
                              "report.claims.measures.table2",
                              "report.claims.measures.convergence",
                              "report.claims.measures.robustness",
                              "report.claims.measures.proposition6",
                              "report.claims.measures.injection",
                              "report.claims.measures.laboratory",
                              "report.claims.measures.theorem4", "report.claims.measures.dirac",
                              "report.claims.measures.memorisation",
                              "report.claims.measures.concentration", "report.claims.catalogue",
                              "report.claims.readings", "report.claims.inputs",
                              "report.claims.context",
                              "report.claims.claims_files", "report.claims.ledger",
                              "report.claims.markdown",
                              "report.html", "report.export", "report.cost_perturbation"],
    "command line": ["cli", "__main__"],
    "workflow planner (the Snakefile's)": ["pipeline", "pipeline.config_files",
                                           "pipeline.config_values", "pipeline.paths",
                                           "pipeline.commands", "pipeline.names",
                                           "pipeline.targets", "pipeline.compute",
                                           "pipeline.specs_units",
                                           "pipeline.specs_closed_form",
                                           "pipeline.specs_studies",
                                           "pipeline.specs_claims",
                                           "pipeline.validation"],
}  # fmt: skip
LEVEL = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}


def _level(module):
    """The layer number of ``module``: its own entry, or its package's ``"<package>.*"``."""
    return LEVEL.get(module, LEVEL.get(module.rpartition(".")[0] + ".*"))


def _name(path):
    parts = list(path.relative_to(code_closure.PACKAGE_DIR).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph():
    root, graph = code_closure.PACKAGE_DIR, {}
    for path in sorted(root.rglob("*.py")):
        name = _name(path)
        full = f"mfgstudy.{name}".rstrip(".")
        imported = code_closure._imported(root, full, path) - {full}
        graph[name] = {m.removeprefix("mfgstudy").removeprefix(".") for m in imported}
    return graph


def test_every_module_has_a_layer():
    graph = _graph()
    unplaced = {m for m in graph if _level(m) is None}
    gone = {m for m in LEVEL if not m.endswith(".*") and m not in graph}
    assert not unplaced and not gone, (unplaced, gone)


def test_nothing_imports_upward():
    layer = lambda m: list(LAYERS)[_level(m)]  # noqa: E731
    upward = [
        f"{m} ({layer(m)}) imports {i} ({layer(i)})"
        for m, imports in _graph().items()
        for i in imports
        if _level(i) > _level(m)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    graph, state, circles = _graph(), {}, []

    def visit(m, path):
        state[m] = "open"
        for i in sorted(graph[m]):
            if state.get(i) == "open":
                circles.append(path[path.index(i) :] + [i])
            elif i not in state:
                visit(i, [*path, i])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, circles


def test_only_the_snakefile_imports_the_planner():
    planner = set(LAYERS["workflow planner (the Snakefile's)"])
    importers = [m for m, imports in _graph().items() if m not in planner and imports & planner]
    assert not importers, importers


def test_the_planner_comes_in_pieces():
    """pipeline/__init__.py imports nothing (a rule file imports the modules it uses), and no
    module of the planner grows past 400 lines (issue 25)."""
    assert _graph()["pipeline"] == set()
    sizes = {p.name: len(p.read_text().splitlines())
             for p in (code_closure.PACKAGE_DIR / "pipeline").glob("*.py")}  # fmt: skip
    assert max(sizes.values()) <= 400, sizes


def test_stores_are_read_and_written_by_jobs_and_reports_only():
    """Science modules take arrays and return arrays: the modules that import the store layer
    are the jobs, the report, and the few whose business is a file (data sources and the
    prepare job, models on disk, training checkpoints, the Inception weights' checksum)."""
    files = {"data", "models", "training.checkpoint", "metrics.features"}
    importers = {m for m, imports in _graph().items() if "store" in imports}
    others = {m for m in importers if not m.startswith(("jobs.", "report."))}
    assert others == files, others ^ files
