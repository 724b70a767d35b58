# The ANALOG of the paper's section 7.4 (prompt injection): a class-embedding attack on the
# class-conditional digits models (config `injection`), and its figure.
from mfgstudy.pipeline import specs_studies

if "injection" in config:

    rule injection:
        input:
            data=paths.data,
            model=paths.model,
            classifier=paths.classifier,
        output:
            directory(paths.injection),
        log:
            log_path("injection/{dataset}/{method}/seed{seed}"),
        benchmark:
            benchmark_path("injection/{dataset}/{method}/seed{seed}")
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
            "--data {input.data:q} --seed {wildcards.seed} --model {input.model:q} "
            "--classifier {input.classifier:q} --out {output:q} --device {params.device} "
            "--threads {threads} 2> {log:q}"

    rule injection_figure:
        input:
            specs_studies.injection_stores(config),
        output:
            png=reported(paths.injection_figure.png, "injection"),
            pdf=paths.injection_figure.pdf,
        log:
            log_path("injection_figure"),
        benchmark:
            benchmark_path("injection_figure")
        localrule: True
        conda:
            ENV
        threads: 1
        resources:
            **cpu_job(),
        params:
            code=commands.code_hash("injection-figure"),
        shell:
            "python -m mfgstudy injection-figure --code {params.code} --stores {input:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"
