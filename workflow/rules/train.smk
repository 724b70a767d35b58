from mfgstudy.pipeline import compute, specs_units


# Inside a SLURM job (SLURM_JOB_ID set) training stops cleanly before the job's runtime (exit 75)
# and its rerun resumes from the last checkpoint; a local run has no time limit. The retries are
# those resumptions (config checkpoint.resumptions; other rules: the profile's one retry).
rule train:
    input:
        data=rules.prepare_data.output[0],
    output:
        model="results/models/{dataset}/{method}/seed{seed}/model.pt",
        log=directory("results/models/{dataset}/{method}/seed{seed}/train_log.zarr"),
    log:
        "results/logs/train/{dataset}/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{method}/seed{seed}.tsv"
    priority: 50
    retries: compute.train_retries(config)
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("train"),
    params:
        code=lambda wc: commands.code_hash(
            "train", specs_units.train_spec(config, wc.dataset, wc.method)
        ),
        spec=lambda wc: as_json(specs_units.train_spec(config, wc.dataset, wc.method)),
        launch=lambda wc: compute.launcher(config, wc.dataset),  # python, or torchrun (DDP)
        checkpoints="results/checkpoints/train/{dataset}/{method}/seed{seed}",
        every=lambda wc: compute.checkpoint_every(config, wc.method),
        margin=config["checkpoint"]["stop_margin_min"],
        threads=torch_threads,
        device=job_device,
    shell:
        "{params.launch} -m mfgstudy train --code {params.code} --spec {params.spec:q} "
        "--data-path {input.data:q} --seed {wildcards.seed} --out-model {output.model:q} "
        "--out-log {output.log:q} --checkpoint-dir {params.checkpoints:q} "
        "--checkpoint-every {params.every} ${{SLURM_JOB_ID:+--walltime-min {resources.runtime} "
        "--stop-margin-min {params.margin}}} --device {params.device} "
        "--threads {params.threads} 2> {log:q}"


rule train_classifier:
    input:
        data=rules.prepare_data.output[0],
    output:
        model="results/models/{dataset}/classifier/model.pt",
        report=directory("results/models/{dataset}/classifier/report.zarr"),
    log:
        "results/logs/train_classifier/{dataset}.log",
    benchmark:
        "results/benchmarks/train_classifier/{dataset}.tsv"
    priority: 50
    conda:
        ENV
    threads: THREADS
    resources:
        **job_resources("evaluate"),
    params:
        code=commands.code_hash("train-classifier"),
        spec=lambda wc: as_json(config["classifier"]),
        device=job_device,
    shell:
        "python -m mfgstudy train-classifier --code {params.code} --spec {params.spec:q} "
        "--data-path {input.data:q} --out-model {output.model:q} --out-report {output.report:q} "
        "--device {params.device} --threads {threads} 2> {log:q}"
