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
        ENV
    threads: THREADS
    resources:
        **job_resources("train"),  # gpu, mem_mb, runtime: config resources.train
    params:
        code=plan.code_hash("train"),
        spec=lambda wc: as_json(plan.train_spec(config, wc.dataset, wc.method)),
        launch=lambda wc: plan.launcher(config, wc.dataset),  # python, or torchrun (DDP)
        checkpoints=lambda wc: plan.CHECKPOINTS.format(**wc),
        every=lambda wc: plan.checkpoint_every(config, wc.method),
        margin=config["checkpoint"]["stop_margin_min"],
        threads=lambda wc, threads: plan.threads_per_process(
            config, wc.dataset, threads
        ),
    # Inside a SLURM job (SLURM_JOB_ID set) training stops cleanly before the job's runtime and
    # its rerun resumes; a local run has no time limit. Torch threads are per process.
    shell:
        "{params.launch} -m mfgstudy train --code {params.code} --spec {params.spec:q} "
        "--data {input.data:q} --seed {wildcards.seed} --out-model {output.model:q} "
        "--out-log {output.log:q} --checkpoint-dir {params.checkpoints:q} "
        "--checkpoint-every {params.every} ${{SLURM_JOB_ID:+--walltime-min {resources.runtime} "
        "--stop-margin-min {params.margin}}} --threads {params.threads} 2> {log:q}"


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
        ENV
    threads: THREADS
    resources:
        **job_resources("evaluate"),  # gpu, mem_mb, runtime: config resources.evaluate
    params:
        code=plan.code_hash("train-classifier"),
        spec=lambda wc: as_json(config["classifier"]),
    shell:
        "python -m mfgstudy train-classifier --code {params.code} --spec {params.spec:q} "
        "--data {input.data:q} --out-model {output.model:q} --out-report {output.report:q} "
        "--threads {threads} 2> {log:q}"
