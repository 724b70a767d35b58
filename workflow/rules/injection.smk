# The ANALOG of the paper's section 7.4 (prompt injection): a class-embedding attack on the
# class-conditional digits models (config `injection`), and its figure.
from mfgstudy.pipeline import specs_studies

if "injection" in config:

    rule injection:
        input:
            data=rules.prepare_data.output[0],
            model=rules.train.output.model,
            classifier=rules.train_classifier.output.model,
        output:
            directory("results/injection/{dataset}/{method}/seed{seed}.zarr"),
        log:
            "results/logs/injection/{dataset}/{method}/seed{seed}.log",
        benchmark:
            "results/benchmarks/injection/{dataset}/{method}/seed{seed}.tsv"
        conda:
            ENV
        threads: THREADS
        resources:
            **job_resources("sample"),
        params:
            code=lambda wc: commands.code_hash(
                "injection",
                specs_studies.injection_spec(config, wc.dataset, wc.method),
            ),
            spec=lambda wc: as_json(
                specs_studies.injection_spec(config, wc.dataset, wc.method)
            ),
            device=job_device,
        shell:
            "python -m mfgstudy injection --code {params.code} --spec {params.spec:q} "
            "--data-path {input.data:q} --seed {wildcards.seed} --model-path {input.model:q} "
            "--classifier-path {input.classifier:q} --out {output:q} --device {params.device} "
            "--threads {threads} 2> {log:q}"

    rule injection_figure:
        input:
            specs_studies.injection_stores(config),
        output:
            png=reported("results/figures/fig_injection_analog.png", "injection"),
            pdf="results/figures/fig_injection_analog.pdf",
        log:
            "results/logs/injection_figure.log",
        benchmark:
            "results/benchmarks/injection_figure.tsv"
        localrule: True
        conda:
            ENV
        threads: 1
        params:
            code=commands.code_hash("injection-figure"),
        shell:
            "python -m mfgstudy injection-figure --code {params.code} --store-paths {input:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"
