from mfgstudy.pipeline import specs_units


rule prepare_data:
    input:
        source=lambda wc: specs_units.data_source(config, wc.dataset),  # a local file, if any
    output:
        directory(paths.data),
    log:
        log_path("prepare_data/{dataset}"),
    benchmark:
        benchmark_path("prepare_data/{dataset}")
    priority: 100
    conda:
        ENV
    threads: 1
    resources:
        **job_resources("data"),
    params:
        code=commands.code_hash("prepare-data"),
        spec=lambda wc: as_json(specs_units.data_spec(config, wc.dataset)),
        device=job_device,
    shell:
        "python -m mfgstudy prepare-data --code {params.code} --spec {params.spec:q} "
        "--out {output:q} --device {params.device} --threads {threads} 2> {log:q}"
