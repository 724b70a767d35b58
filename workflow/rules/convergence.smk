# Theorem 2 on two laws (config `convergence`): the closed-form W2 of every sampler's N-step law
# on a Gaussian, N doubled until the rate is in its asymptotic regime; and the law-level W2
# between successive refinements on a mixture with separated modes and unequal weights.
CONVERGENCE = config.get("convergence", {})

if "gaussian" in CONVERGENCE:

    rule convergence_gaussian:
        input:
            plan.convergence_data(config),
        output:
            directory(paths.convergence.format(name="gaussian")),
        log:
            plan.log_path("convergence/gaussian"),
        benchmark:
            plan.benchmark_path("convergence/gaussian")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(runtime=30),
        params:
            code=plan.code_hash("convergence-gaussian"),
            spec=as_json(plan.convergence_spec(config, "gaussian")),
        shell:
            "python -m mfgstudy convergence-gaussian --code {params.code} --spec {params.spec:q} "
            "--data {input:q} --out {output:q} 2> {log:q}"


if "mixture" in CONVERGENCE:

    rule convergence_mixture:
        output:
            directory(paths.convergence.format(name="mixture")),
        log:
            plan.log_path("convergence/mixture"),
        benchmark:
            plan.benchmark_path("convergence/mixture")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(mem_mb=8000, runtime=720),  # the paper's 1e6 samples to N = 4096
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
            csv=reported(paths.convergence_table.csv, "convergence"),
            md=paths.convergence_table.md,
        log:
            plan.log_path("convergence/table"),
        benchmark:
            plan.benchmark_path("convergence/table")
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=plan.code_hash("convergence-table"),
        shell:
            "python -m mfgstudy convergence-table --code {params.code} --convergence {input:q} "
            "--csv {output.csv:q} --md {output.md:q} 2> {log:q}"
