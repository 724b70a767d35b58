# The ANALOG of the paper's section 7.4 (prompt injection): a class-embedding attack on the
# class-conditional digits models (config `injection`), and its figure.

if "injection" in config:

    rule injection:
        input:
            data=plan.DATA,
            model=plan.MODEL,
            classifier=plan.CLASSIFIER,
        output:
            directory(plan.INJECTION),
        log:
            "results/logs/injection/{dataset}/{method}/seed{seed}.log",
        benchmark:
            "results/benchmarks/injection/{dataset}/{method}/seed{seed}.tsv"
        conda:
            ENV
        threads: THREADS
        resources:
            **job_resources("sample"),  # gpu, mem_mb, runtime: config resources.sample
        params:
            code=plan.code_hash("injection"),
            spec=lambda wc: as_json(plan.injection_spec(config, wc.dataset, wc.method)),
        shell:
            "python -m mfgstudy injection --code {params.code} --spec {params.spec:q} "
            "--data {input.data:q} --seed {wildcards.seed} --model {input.model:q} "
            "--classifier {input.classifier:q} --out {output:q} --threads {threads} 2> {log:q}"

    rule injection_figure:
        input:
            plan.injection_stores(config),
        output:
            png=reported(plan.FIG_INJECTION["png"], "injection", "3. Robustness"),
            pdf=plan.FIG_INJECTION["pdf"],
        log:
            "results/logs/injection_figure.log",
        benchmark:
            "results/benchmarks/injection_figure.tsv"
        conda:
            ENV
        threads: 1
        resources:
            gpu=0,
            mem_mb=2000,
            runtime=10,
        params:
            code=plan.code_hash("injection-figure"),
        shell:
            "python -m mfgstudy injection-figure --code {params.code} --stores {input:q} "
            "--png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"
