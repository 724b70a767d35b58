rule collect:
    input:
        metrics=plan.metric_dirs(config),
        floors=plan.floors(config),
    output:
        directory(plan.CUBE),
    log:
        "results/logs/collect.log",
    benchmark:
        "results/benchmarks/collect.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("collect"),
    shell:
        "python -m mfgstudy collect --code {params.code} --metrics {input.metrics:q} "
        "--floors {input.floors:q} --out {output:q} 2> {log:q}"


REPORT_SPEC = {
    **plan.report_spec(config),
    "reference_steps": {
        k: s.get("reference_steps") for k, s in config["sweeps"].items()
    },
}


rule figure1:
    input:
        cube=plan.CUBE,
        convergence=plan.convergence_stores(config),
    output:
        png=reported(plan.FIG1_PNG, "figure1", "1. Convergence in N"),
        pdf=plan.FIG1_PDF,
    log:
        "results/logs/figure1.log",
    benchmark:
        "results/benchmarks/figure1.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("figure1"),
        spec=as_json(REPORT_SPEC),
        convergence=lambda wc, input: opt("--convergence", input.convergence),
    shell:
        "python -m mfgstudy figure1 --code {params.code} --spec {params.spec:q} "
        "--cube {input.cube:q} {params.convergence} --png {output.png:q} --pdf {output.pdf:q} "
        "2> {log:q}"


rule slopes_table:
    input:
        cube=plan.CUBE,
        convergence=plan.convergence_stores(config),
    output:
        csv=reported(plan.SLOPES_CSV, "slopes", "1. Convergence in N"),
        md=plan.SLOPES_MD,
    log:
        "results/logs/slopes_table.log",
    benchmark:
        "results/benchmarks/slopes_table.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("slopes"),
        spec=as_json(REPORT_SPEC),
        convergence=lambda wc, input: opt("--convergence", input.convergence),
    shell:
        "python -m mfgstudy slopes --code {params.code} --spec {params.spec:q} "
        "--cube {input.cube:q} {params.convergence} --csv {output.csv:q} --md {output.md:q} "
        "2> {log:q}"


rule table1:
    input:
        plan.CUBE,
    output:
        csv=reported(plan.TABLE1["csv"], "table1", "2. Image metrics"),
        md=plan.TABLE1["md"],
        tex=plan.TABLE1["tex"],
    log:
        "results/logs/table1.log",
    benchmark:
        "results/benchmarks/table1.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("table1"),
    shell:
        "python -m mfgstudy table1 --code {params.code} --cube {input:q} --csv {output.csv:q} "
        "--md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule table2:
    input:
        plan.CUBE,
    output:
        csv=reported(plan.TABLE2["csv"], "table2", "3. Robustness"),
        md=plan.TABLE2["md"],
        tex=plan.TABLE2["tex"],
    log:
        "results/logs/table2.log",
    benchmark:
        "results/benchmarks/table2.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("table2"),
    shell:
        "python -m mfgstudy table2 --code {params.code} --cube {input:q} --csv {output.csv:q} "
        "--md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule robustness_table:
    input:
        plan.CUBE,
    output:
        csv=reported(plan.ROBUSTNESS["csv"], "robustness_table", "3. Robustness"),
        md=plan.ROBUSTNESS["md"],
        tex=plan.ROBUSTNESS["tex"],
    log:
        "results/logs/robustness_table.log",
    benchmark:
        "results/benchmarks/robustness_table.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("robustness-table"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy robustness-table --code {params.code} --spec {params.spec:q} "
        "--cube {input:q} --csv {output.csv:q} --md {output.md:q} --tex {output.tex:q} 2> {log:q}"


rule robustness_figure:
    input:
        plan.CUBE,
    output:
        png=reported(plan.FIG_ROBUSTNESS["png"], "robustness_figure", "3. Robustness"),
        pdf=plan.FIG_ROBUSTNESS["pdf"],
    log:
        "results/logs/robustness_figure.log",
    benchmark:
        "results/benchmarks/robustness_figure.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("robustness-figure"),
        spec=as_json(REPORT_SPEC),
    shell:
        "python -m mfgstudy robustness-figure --code {params.code} --spec {params.spec:q} "
        "--cube {input:q} --png {output.png:q} --pdf {output.pdf:q} 2> {log:q}"


rule claims:
    input:
        # the repository's own files (not workflow.source_path's temporary copies, whose
        # deleted paths claims.json would record as its claims_file)
        claims_files=[str(Path(workflow.basedir) / f) for f in plan.CLAIMS_FILES],
        cube=plan.CUBE,
        slopes=plan.SLOPES_CSV,
        exponents=plan.ROBUSTNESS["csv"],
        exact=(
            plan.ROBUSTNESS_EXACT_TABLE["csv"]
            if config.get("robustness_exact")
            else []
        ),
        table2=plan.TABLE2["csv"],
        train_logs=plan.mfg_train_logs(config),
        injection=plan.injection_stores(config),
        dirac=plan.claims_study_table(config, "dirac"),
        concentration=plan.claims_study_table(config, "concentration"),
    output:
        md=reported(plan.CLAIMS["md"], "claims", "0. Claims ledger"),
        json=plan.CLAIMS["json"],
    log:
        "results/logs/claims.log",
    benchmark:
        "results/benchmarks/claims.tsv"
    conda:
        ENV
    threads: 1
    resources:
        gpu=0,
        mem_mb=2000,
        runtime=10,
    params:
        code=plan.code_hash("claims"),
        spec=as_json(plan.claims_spec(config)),
        train_logs=lambda wc, input: opt("--train-logs", input.train_logs),
        injection=lambda wc, input: opt("--injection", input.injection),
        exact=lambda wc, input: opt("--exact-exponents", input.exact),
        dirac=lambda wc, input: opt("--dirac", input.dirac),
        concentration=lambda wc, input: opt("--concentration", input.concentration),
    shell:
        "python -m mfgstudy claims --code {params.code} --spec {params.spec:q} "
        "--claims-files {input.claims_files:q} --cube {input.cube:q} --slopes {input.slopes:q} "
        "--exponents {input.exponents:q} --table2 {input.table2:q} {params.exact} "
        "{params.train_logs} {params.injection} {params.dirac} {params.concentration} "
        "--md {output.md:q} --json {output.json:q} 2> {log:q}"
