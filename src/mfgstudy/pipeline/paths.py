"""Where the study's files live: every file and folder the workflow writes, one template each
(``paths``), the path form of a perturbation size (:func:`eps_label`) and the claims files. The
rules write these templates literally (workflow/rules/*.smk) and the planner formats them (the
target lists, ``mfgstudy.pipeline.targets``, and the jobs' inputs, ``specs_*``);
tests/workflow/test_cluster_rules.py keeps the two equal.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]  # src/mfgstudy/pipeline/paths.py -> the repo


# a unit job's folder (every eps of one sweep, data set, method, seed, sampler and grid)
UNIT = "{sweep}/{dataset}/{method}/seed{seed}/{sampler}/{grid}"


class Table(dict):
    """A table also read as attributes: ``paths.data``, ``paths.table1.csv``."""

    def __getattr__(self, key: str):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Files(Table):
    """Files that differ only in their extension, by extension; ``name`` is their file name
    without it (the stem by which the claims ledger links its evidence)."""

    def __init__(self, stem: str, *exts: str):
        super().__init__({ext: f"{stem}.{ext}" for ext in exts})
        self.name = stem.rpartition("/")[2]


# Every file and folder the study writes, one template each: the rules' outputs, written
# literally in workflow/rules/*.smk (a test keeps them equal), formatted by the planner.
paths = Table(
    data="results/data/{dataset}.zarr",
    model="results/models/{dataset}/{method}/seed{seed}/model.pt",
    train_log="results/models/{dataset}/{method}/seed{seed}/train_log.zarr",
    # a training run's checkpoints: no output, so Snakemake never deletes them (mfgstudy.jobs.train)
    checkpoints="results/checkpoints/train/{dataset}/{method}/seed{seed}",
    classifier="results/models/{dataset}/classifier/model.pt",
    classifier_report="results/models/{dataset}/classifier/report.zarr",
    samples="results/samples/" + UNIT,  # eps<e>/<kind>/N<n>.zarr inside (mfgstudy.layout)
    metrics="results/metrics/" + UNIT,
    # the unit jobs' values by the hash of what they depend on: no output (mfgstudy.jobs.unit)
    unit_cache="results/cache/units",
    floor="results/metrics/floors/{sweep}/{dataset}.zarr",
    reference="results/metrics/reference/{dataset}/{features}.zarr",  # the train split's
    cube="results/metrics.zarr",
    convergence="results/convergence/{name}.zarr",  # Theorem 2's curves: gaussian, mixture, dirac
    robustness_exact="results/robustness_exact/{law}/{perturbation}.zarr",
    mfg_equilibrium="results/mfg_equilibrium/gaussian.zarr",  # Algorithm 1's closed form
    cost_perturbation="results/cost_perturbation/gaussian.zarr",  # Theorem 4's own object
    proposition6="results/proposition6/gaussian.zarr",  # Algorithm 1 without a network
    injection="results/injection/{dataset}/{method}/seed{seed}.zarr",
    # tables and figures
    figure1=Files("results/figures/fig1_w2_vs_N", "png", "pdf"),
    slopes_table=Files("results/tables/w2_slopes", "csv", "md"),
    table1=Files("results/tables/table1_images", "csv", "md", "tex"),
    table2=Files("results/tables/table2_perturbed_images", "csv", "md", "tex"),
    robustness_table=Files("results/tables/robustness_eps_exponents", "csv", "md", "tex"),
    robustness_figure=Files("results/figures/fig_robustness_eps", "png", "pdf"),
    injection_figure=Files("results/figures/fig_injection_analog", "png", "pdf"),
    convergence_table=Files("results/tables/theorem2_convergence", "csv", "md"),
    robustness_exact_table=Files("results/tables/robustness_exact_exponents", "csv", "md", "tex"),
    robustness_exact_figure=Files("results/figures/fig_robustness_exact", "png", "pdf"),
    mfg_equilibrium_table=Files("results/tables/mfg_equilibrium_gaussian", "csv", "md"),
    mfg_equilibrium_figure=Files("results/figures/fig_mfg_equilibrium_gaussian", "png", "pdf"),
    proposition6_table=Files("results/tables/proposition6_exact", "csv", "md"),
    mfg_readings_table=Files("results/tables/mfg_readings", "csv", "md"),
    cost_perturbation_table=Files("results/tables/theorem4_cost_perturbation", "csv", "md"),
    cost_perturbation_figure=Files("results/figures/fig_theorem4_cost_perturbation", "png", "pdf"),
    hjb_table=Files("results/tables/hjb_checkerboard", "csv", "md"),
    hjb_figure=Files("results/figures/fig_hjb_checkerboard", "png", "pdf"),
    dirac_table=Files("results/tables/dirac_theorem2", "csv", "md"),
    memorisation_table=Files("results/tables/memorisation", "csv", "md"),
    concentration_table=Files("results/tables/concentration", "csv", "md"),
    concentration_figure=Files("results/figures/fig_concentration", "png", "pdf"),
    claims=Files("results/claims", "md", "json"),
    report=Files("results/report", "html"),  # opens on the claims ledger (mfgstudy.report.html)
    export=Files("results/export/metrics", "csv", "parquet"),  # the cube, one row per value
)
SAMPLES, METRICS, FLOOR = paths.samples, paths.metrics, paths.floor  # the tests' names


def eps_label(eps: float) -> str:
    """The path form of a perturbation size: 0.05 -> "0.05", 1e-3 -> "0.001". Lossless: two
    different sizes never share a folder (0.5 and 0.5000001 -> "0.5" and "0.5000001")."""
    short = f"{float(eps):g}"
    return short if float(short) == float(eps) else repr(float(eps))


def sweep_eps(sweep: dict) -> list[str]:
    """The sizes a sweep samples at: 0 (unperturbed) and every positive ``eps``."""
    return ["0"] + [eps_label(e) for e in sorted(set(sweep.get("eps", []))) if e > 0]


def study_outputs(study: str) -> list[str]:
    """The files of a study's table (and figure)."""
    return [p for part in ("table", "figure") for p in paths.get(f"{study}_{part}", {}).values()]


# one claims file per paper (the ledger's sections, in this order), in workflow/claims/
CLAIMS_NAMES = ("mfg_paper.yaml", "mfg_laboratory.yaml", "pde_perspective.yaml")
CLAIMS_FILES = [f"workflow/claims/{name}" for name in CLAIMS_NAMES]
CLAIMS_FILE = CLAIMS_FILES[0]  # the main paper's
