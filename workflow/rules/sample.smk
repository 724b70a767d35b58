rule sample:
    input:
        data=paths.data,
        model=model_of,
    output:
        directory(paths.samples),
    log:
        plan.log_path("sample", plan.UNIT_DIR),
    benchmark:
        plan.benchmark_path("sample", plan.UNIT_DIR)
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("sample"),
    params:
        code=plan.code_hash("sample"),
        spec=lambda wc: as_json(plan.sample_spec(config, wc)),
        steps=shown(plan.sample_spec, "steps"),  # N: one store per N and perturbation kind
        n_samples=shown(plan.sample_spec, "n_samples"),
        model=lambda wc, input: opt("--model", input.model),
    shell:
        "python -m mfgstudy sample --code {params.code} --spec {params.spec:q} "
        "--data {input.data:q} {params.model} --seed {wildcards.seed} --out {output:q} "
        "--threads {threads} 2> {log:q}"
