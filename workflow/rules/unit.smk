from mfgstudy.pipeline import compute, specs_units


# One job per unit samples and evaluates every eps of it (mfgstudy.jobs.unit); a value whose spec,
# code and input files are unchanged is taken from results/cache/units, so adding an eps
# computes only the new one.
rule unit:
    input:
        unpack(unit_inputs),  # data, model, classifier, references, inception weights
    output:
        samples=directory(
            "results/samples/{sweep}/{dataset}/{method}/seed{seed}/{sampler}/{grid}"
        ),
        metrics=directory(
            "results/metrics/{sweep}/{dataset}/{method}/seed{seed}/{sampler}/{grid}"
        ),
    log:
        "results/logs/unit/{sweep}/{dataset}/{method}/seed{seed}/{sampler}/{grid}.log",
    benchmark:
        "results/benchmarks/unit/{sweep}/{dataset}/{method}/seed{seed}/{sampler}/{grid}.tsv"
    conda:
        ENV
    threads: THREADS
    resources:
        **compute.unit_resources(config),
    params:
        code=lambda wc: commands.code_hash("unit", specs_units.unit_spec(config, wc)),
        spec=lambda wc: as_json(specs_units.unit_spec(config, wc)),
        eps=lambda wc, input: list(specs_units.unit_spec(config, wc)["values"]),  # shown (see shown)
        inputs=lambda wc, input: unit_options(input),
        cache="results/cache/units",
        device=job_device,
    shell:
        "python -m mfgstudy unit --code {params.code} --spec {params.spec:q} "
        "--data-path {input.data:q} {params.inputs} --seed {wildcards.seed} "
        "--out-samples {output.samples:q} --out-metrics {output.metrics:q} "
        "--cache {params.cache:q} --device {params.device} --threads {threads} 2> {log:q}"
