from mfgstudy.pipeline import specs_units


rule floor:
    input:
        data=paths.data,
        classifier=classifier_of,
        references=lambda wc: specs_units.references(config, wc.dataset),
        inception=lambda wc: specs_units.inception_input(config, wc.dataset),
    output:
        directory(paths.floor),
    log:
        log_path("floor/{sweep}/{dataset}"),
    benchmark:
        benchmark_path("floor/{sweep}/{dataset}")
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("evaluate"),
    params:
        code=commands.code_hash("floor"),
        spec=lambda wc: as_json(specs_units.floor_spec(config, wc.sweep, wc.dataset)),
        classifier=lambda wc, input: opt("--classifier", input.classifier),
        references=lambda wc, input: opt("--references", input.references),
        device=job_device,
    shell:
        "python -m mfgstudy floor --code {params.code} --spec {params.spec:q} "
        "--data {input.data:q} {params.classifier} {params.references} --out {output:q} "
        "--device {params.device} --threads {threads} 2> {log:q}"


rule reference:
    input:
        data=paths.data,
        classifier=lambda wc: classifier_of(wc) if wc.features == "digits" else [],
        inception=lambda wc: (
            specs_units.inception_input(config) if wc.features == "inception" else []
        ),
    output:
        directory(paths.reference),
    log:
        log_path("reference/{dataset}/{features}"),
    benchmark:
        benchmark_path("reference/{dataset}/{features}")
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
        classifier=lambda wc, input: opt("--classifier", input.classifier),
        device=job_device,
    shell:
        "python -m mfgstudy reference --code {params.code} --spec {params.spec:q} "
        "--data {input.data:q} {params.classifier} --out {output:q} --device {params.device} "
        "--threads {threads} 2> {log:q}"
