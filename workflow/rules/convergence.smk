# Theorem 2 where it must hold (config `convergence`): closed-form W2 of every sampler's N-step
# law on a Gaussian law, N doubled until the rate is in its asymptotic regime.


rule convergence_gaussian:
    input:
        lambda wc: plan.convergence_data(config, wc.name),
    output:
        directory(plan.CONVERGENCE),
    log:
        "results/logs/convergence/{name}.log",
    benchmark:
        "results/benchmarks/convergence/{name}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=30,
    params:
        code=plan.code_hash("convergence"),
        spec=lambda wc: as_json(plan.convergence_spec(config, wc.name)),
    shell:
        "python -m mfgstudy convergence-gaussian --spec {params.spec:q} --data {input:q} "
        "--out {output:q} 2> {log:q}"
