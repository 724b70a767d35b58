rule train:
    input:
        data=plan.DATA,
    output:
        model=plan.MODEL,
        log=directory(plan.TRAIN_LOG),
    log:
        "results/logs/train/{dataset}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{method}/seed{seed}.tsv"
    priority: 50
    conda:
        CPU_ENV
    threads: THREADS
    resources:
        gpu=GPUS["train"],
        mem_mb=4000,
        runtime=120,
    params:
        code=plan.code_hash("train"),
        spec=lambda wc: as_json(plan.train_spec(config, wc.dataset, wc.method)),
    shell:
        "python -m mfgstudy train --spec {params.spec:q} --data {input.data:q} --seed {wildcards.seed} "
        "--out-model {output.model:q} --out-log {output.log:q} --threads {threads} 2> {log:q}"


rule train_classifier:
    input:
        data=plan.DATA,
    output:
        model=plan.CLASSIFIER,
        report=directory(plan.CLASSIFIER_REPORT),
    log:
        "results/logs/train_classifier/{dataset}.log",
    benchmark:
        "results/benchmarks/train_classifier/{dataset}.tsv"
    priority: 50
    conda:
        CPU_ENV
    threads: THREADS
    resources:
        gpu=GPUS["train"],
        mem_mb=2000,
        runtime=30,
    params:
        code=plan.code_hash("train_classifier"),
        spec=lambda wc: as_json(config["classifier"]),
    shell:
        "python -m mfgstudy train-classifier --spec {params.spec:q} --data {input.data:q} "
        "--out-model {output.model:q} --out-report {output.report:q} --threads {threads} 2> {log:q}"
