from mfgstudy.pipeline import specs_units


rule floor:
    input:
        data=rules.prepare_data.output[0],
        classifier=classifier_of,
        references=lambda wc: specs_units.references(config, wc.dataset),
        inception=lambda wc: specs_units.inception_input(config, wc.dataset),
    output:
        directory("results/metrics/floors/{sweep}/{dataset}.zarr"),
    log:
        "results/logs/floor/{sweep}/{dataset}.log",
    benchmark:
        "results/benchmarks/floor/{sweep}/{dataset}.tsv"
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("evaluate"),
    params:
        code=commands.code_hash("floor"),
        spec=lambda wc: as_json(specs_units.floor_spec(config, wc.sweep, wc.dataset)),
        classifier=lambda wc, input: opt("--classifier-path", input.classifier),
        references=lambda wc, input: opt("--reference-paths", input.references),
        device=job_device,
    shell:
        "python -m mfgstudy floor --code {params.code} --spec {params.spec:q} "
        "--data-path {input.data:q} {params.classifier} {params.references} --out {output:q} "
        "--device {params.device} --threads {threads} 2> {log:q}"


rule reference:
    input:
        data=rules.prepare_data.output[0],
        classifier=lambda wc: classifier_of(wc) if wc.features == "digits" else [],
        inception=lambda wc: (
            specs_units.inception_input(config) if wc.features == "inception" else []
        ),
    output:
        directory("results/metrics/reference/{dataset}/{features}.zarr"),
    log:
        "results/logs/reference/{dataset}/{features}.log",
    benchmark:
        "results/benchmarks/reference/{dataset}/{features}.tsv"
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("evaluate"),
    params:
        code=commands.code_hash("reference"),
        spec=lambda wc: as_json(
            specs_units.reference_spec(config, wc.dataset, wc.features)
        ),
        classifier=lambda wc, input: opt("--classifier-path", input.classifier),
        device=job_device,
    shell:
        "python -m mfgstudy reference --code {params.code} --spec {params.spec:q} "
        "--data-path {input.data:q} {params.classifier} --out {output:q} --device {params.device} "
        "--threads {threads} 2> {log:q}"
