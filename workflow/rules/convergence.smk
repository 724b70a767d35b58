# Theorem 2 (config `convergence`): the closed-form W2 of every sampler's N-step law on a
# Gaussian and on a Dirac law (the PDE paper's Theorem 2), N doubled until the rate is in its
# asymptotic regime; and the law-level W2 between successive refinements on a mixture with
# separated modes and unequal weights.
from mfgstudy.pipeline import specs_closed_form

CONVERGENCE = config.get("convergence", {})
CLOSED_FORM = specs_closed_form.closed_form_convergence(config)

if CLOSED_FORM:

    rule convergence_closed_form:
        input:
            lambda wc: specs_closed_form.convergence_data(config, wc.name),
        output:
            directory("results/convergence/{name}.zarr"),
        log:
            "results/logs/convergence/{name}.log",
        benchmark:
            "results/benchmarks/convergence/{name}.tsv"
        wildcard_constraints:
            name="|".join(CLOSED_FORM),
        conda:
            ENV
        threads: 1
        resources:
            runtime=30,
        params:
            code=commands.code_hash("convergence-closed-form"),
            spec=lambda wc: as_json(specs_closed_form.convergence_spec(config, wc.name)),
        shell:
            "python -m mfgstudy convergence-closed-form --code {params.code} --spec {params.spec:q} "
            "--data-path {input:q} --out {output:q} 2> {log:q}"


if "mixture" in CONVERGENCE:

    rule convergence_mixture:
        output:
            directory("results/convergence/mixture.zarr"),
        log:
            "results/logs/convergence/mixture.log",
        benchmark:
            "results/benchmarks/convergence/mixture.tsv"
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=8000,  # the paper's 1e6 samples to N = 4096
            runtime=720,
        params:
            code=commands.code_hash("convergence-mixture"),
            spec=as_json(specs_closed_form.convergence_spec(config, "mixture")),
        shell:
            "python -m mfgstudy convergence-mixture --code {params.code} --spec {params.spec:q} "
            "--out {output:q} 2> {log:q}"


if CONVERGENCE:

    rule convergence_table:
        input:
            specs_closed_form.convergence_stores(config),
        output:
            csv=reported("results/tables/theorem2_convergence.csv", "convergence"),
            md="results/tables/theorem2_convergence.md",
        log:
            "results/logs/convergence/table.log",
        benchmark:
            "results/benchmarks/convergence/table.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("convergence-table"),
        shell:
            "python -m mfgstudy convergence-table --code {params.code} --paths {input:q} "
            "--csv {output.csv:q} --md {output.md:q} 2> {log:q}"
