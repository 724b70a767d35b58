# Theorem 2 on two laws (config `convergence`): the closed-form W2 of every sampler's N-step law
# on a Gaussian, N doubled until the rate is in its asymptotic regime; and the law-level W2
# between successive refinements on a mixture with separated modes and unequal weights.
CONVERGENCE = config.get("convergence", {})

if "gaussian" in CONVERGENCE:

    rule convergence_gaussian:
        input:
            plan.convergence_data(config),
        output:
            directory(plan.CONVERGENCE.format(name="gaussian")),
        log:
            "results/logs/convergence/gaussian.log",
        benchmark:
            "results/benchmarks/convergence/gaussian.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=30,
        params:
            code=plan.code_hash("convergence-gaussian"),
            spec=as_json(plan.convergence_spec(config, "gaussian")),
        shell:
            "python -m mfgstudy convergence-gaussian --code {params.code} --spec {params.spec:q} "
            "--data {input:q} --out {output:q} 2> {log:q}"


if "mixture" in CONVERGENCE:

    rule convergence_mixture:
        output:
            directory(plan.CONVERGENCE.format(name="mixture")),
        log:
            "results/logs/convergence/mixture.log",
        benchmark:
            "results/benchmarks/convergence/mixture.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=8000,
            runtime=720,  # minutes: the paper config's 1e6 samples up to N = 4096 on one core
        params:
            code=plan.code_hash("convergence-mixture"),
            spec=as_json(plan.convergence_spec(config, "mixture")),
        shell:
            "python -m mfgstudy convergence-mixture --code {params.code} --spec {params.spec:q} "
            "--out {output:q} 2> {log:q}"


if CONVERGENCE:

    rule convergence_table:
        input:
            plan.convergence_stores(config),
        output:
            csv=reported(
                plan.CONVERGENCE_TABLE["csv"], "convergence", "1. Convergence in N"
            ),
            md=plan.CONVERGENCE_TABLE["md"],
        log:
            "results/logs/convergence/table.log",
        benchmark:
            "results/benchmarks/convergence/table.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("convergence-table"),
        shell:
            "python -m mfgstudy convergence-table --code {params.code} --convergence {input:q} "
            "--csv {output.csv:q} --md {output.md:q} 2> {log:q}"
