from mfgstudy.pipeline import specs_claims, specs_closed_form, specs_units, targets

# the planner's wildcard values (mfgstudy.pipeline.targets): every unit job, every floor job
UNIT_JOBS = targets.columns(targets.unit_jobs(config))
FLOOR_JOBS = targets.columns(targets.floor_jobs(config))


rule collect:
    input:
        metrics=expand(rules.unit.output.metrics, zip, **UNIT_JOBS),
        floors=expand(rules.floor.output, zip, **FLOOR_JOBS),
    output:
        directory("results/metrics.zarr"),
    log:
        "results/logs/collect.log",
    benchmark:
        "results/benchmarks/collect.tsv"
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("collect"),
    shell:
        "python -m mfgstudy collect --code {params.code} --metric-dirs {input.metrics:q} "
        "--floor-paths {input.floors:q} --out {output:q} 2> {log:q}"


REPORT_SPEC = {
    **specs_units.report_spec(config),
    "reference_steps": {
        k: s.get("reference_steps") for k, s in config["sweeps"].items()
    },
}


rule figure1:
    input:
        cube=rules.collect.output[0],
        convergence=specs_closed_form.convergence_stores(config),
    output:
        png=reported("results/figures/fig1_w2_vs_N.png", "figure1"),
        pdf="results/figures/fig1_w2_vs_N.pdf",
    log:
        "results/logs/figure1.log",
    benchmark:
        "results/benchmarks/figure1.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("figure1"),
        spec=as_json(REPORT_SPEC),
        convergence=lambda wc, input: opt("--convergence", input.convergence),
    shell:
        "python -m mfgstudy figure1 --code {params.code} --spec {params.spec:q} "
        "--cube-path {input.cube:q} {params.convergence} --png {output.png:q} --pdf {output.pdf:q} "
        "2> {log:q}"


rule slopes_table:
    input:
        cube=rules.collect.output[0],
        convergence=specs_closed_form.convergence_stores(config),
    output:
        csv=reported("results/tables/w2_slopes.csv", "slopes"),
        md="results/tables/w2_slopes.md",
    log:
        "results/logs/slopes_table.log",
    benchmark:
        "results/benchmarks/slopes_table.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("slopes"),
        spec=as_json(REPORT_SPEC),
        convergence=lambda wc, input: opt("--convergence", input.convergence),
    shell:
        "python -m mfgstudy slopes --code {params.code} --spec {params.spec:q} "
        "--cube-path {input.cube:q} {params.convergence} --csv {output.csv:q} --md {output.md:q} "
        "2> {log:q}"


# the paper's Tables 1 and 2 at this scale: the metrics cube -> csv, md, tex
rule table1:
    input:
        rules.collect.output[0],
    output:
        csv=reported("results/tables/table1_images.csv", "table1"),
        md="results/tables/table1_images.md",
        tex="results/tables/table1_images.tex",
    log:
        "results/logs/paper_table/table1_images.log",
    benchmark:
        "results/benchmarks/paper_table/table1_images.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("table1"),
    shell:
        "python -m mfgstudy table1 --code {params.code} --cube-path {input:q} "
        "--csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule table2:
    input:
        rules.collect.output[0],
    output:
        csv=reported("results/tables/table2_perturbed_images.csv", "table2"),
        md="results/tables/table2_perturbed_images.md",
        tex="results/tables/table2_perturbed_images.tex",
    log:
        "results/logs/paper_table/table2_perturbed_images.log",
    benchmark:
        "results/benchmarks/paper_table/table2_perturbed_images.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("table2"),
    shell:
        "python -m mfgstudy table2 --code {params.code} --cube-path {input:q} "
        "--csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule robustness_table:
    input:
        rules.collect.output[0],
    output:
        csv=reported("results/tables/robustness_eps_exponents.csv", "robustness_table"),
        md="results/tables/robustness_eps_exponents.md",
        tex="results/tables/robustness_eps_exponents.tex",
    log:
        "results/logs/robustness_table.log",
    benchmark:
        "results/benchmarks/robustness_table.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("robustness-table"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy robustness-table --code {params.code} --spec {params.spec:q} "
        "--cube-path {input:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule robustness_figure:
    input:
        rules.collect.output[0],
    output:
        png=reported("results/figures/fig_robustness_eps.png", "robustness_figure"),
        pdf="results/figures/fig_robustness_eps.pdf",
    log:
        "results/logs/robustness_figure.log",
    benchmark:
        "results/benchmarks/robustness_figure.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("robustness-figure"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy robustness-figure --code {params.code} --spec {params.spec:q} "
        "--cube-path {input:q} --png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


rule claims:
    input:
        unpack(claims_inputs),  # what the ledger reads ([] where a study is not run)
        claims_files=CLAIMS_FILES,
    output:
        md=reported("results/claims.md", "claims"),
        json="results/claims.json",
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    localrule: True
    conda:
        ENV
    threads: 1
    params:
        code=commands.code_hash("claims"),
        spec=as_json(specs_claims.claims_spec(config)),
        options=claims_options,
    shell:
        "python -m mfgstudy claims --code {params.code} --spec {params.spec:q} "
        "--claims-files {input.claims_files:q} {params.options} --md {output.md:q} "
        "--json-out {output.json:q} 2> {log:q}"
