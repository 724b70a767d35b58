rule sample:
    input:
        data=plan.DATA,
        model=model_of,
    output:
        directory(plan.SAMPLES),
    log:
        plan.log_path("sample", plan.UNIT_DIR),
    benchmark:
        plan.benchmark_path("sample", plan.UNIT_DIR)
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("sample"),  # gpu, mem_mb, runtime: config resources.sample
    params:
        code=plan.code_hash("sample"),
        spec=lambda wc: as_json(plan.sample_spec(config, wc)),
        model=lambda wc, input: opt("--model", input.model),
    shell:
        "python -m mfgstudy sample --code {params.code} --spec {params.spec:q} "
        "--data {input.data:q} {params.model} --seed {wildcards.seed} --out {output:q} "
        "--threads {threads} 2> {log:q}"
