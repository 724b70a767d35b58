from mfgstudy.pipeline import specs_units


rule prepare_data:
    input:
        source=lambda wc: specs_units.data_source(config, wc.dataset),  # a local file, if any
    output:
        directory("results/data/{dataset}.zarr"),
    log:
        "results/logs/prepare_data/{dataset}.log",
    benchmark:
        "results/benchmarks/prepare_data/{dataset}.tsv"
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
