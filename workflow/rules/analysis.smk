# Tasks B (clean), C (features), D (rolling_corr), E (regimes), G (model), H (dq).
# clean -> rolling_corr -> regimes is the longest chain of jobs (the report waits for
# it): `priority` starts them first when other jobs (features, dq, model) are ready too.


rule clean:
    input:
        raw=raw_files(),
        ok=ok_files(),
    output:
        out="data/processed/clean.parquet",
    log:
        "logs/clean.log",
    benchmark:
        "logs/benchmarks/clean.tsv"
    priority: 10
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        series=config["series"],
        start=config["start"],
        end=END,
        base_currency=config["base_currency"],
        max_gap_days=config["clean"]["max_gap_days"],
        pairs=config["correlation"]["pairs"],
    script:
        "../scripts/step.py"


rule features:
    input:
        clean=rules.clean.output.out,
    output:
        out="data/processed/features.parquet",
    log:
        "logs/features.log",
    benchmark:
        "logs/benchmarks/features.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        lags=config["features"]["lags"],
        cash_rate=config["features"]["cash_rate"],
    script:
        "../scripts/step.py"


rule rolling_corr:
    input:
        prices=rules.clean.output.out,
    output:
        out="data/processed/rolling_corr.csv",
        gaps="data/processed/pair_gaps.csv",
    log:
        "logs/rolling_corr.log",
    benchmark:
        "logs/benchmarks/rolling_corr.tsv"
    priority: 10
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        pairs=config["correlation"]["pairs"],
        windows=config["correlation"]["windows"],
        ewma_halflife=config["correlation"]["ewma_halflife"],
        spearman=config["correlation"]["spearman"],
        confidence=config["correlation"]["confidence"],
    script:
        "../scripts/step.py"


rule regimes:
    input:
        corr=rules.rolling_corr.output.out,
        clean=rules.clean.output.out,
    output:
        out="data/processed/regimes.parquet",
        episodes="data/processed/stress_episodes.csv",
        horizons="data/processed/horizons.csv",
        exceedance="data/processed/exceedance.csv",
    log:
        "logs/regimes.log",
    benchmark:
        "logs/benchmarks/regimes.tsv"
    priority: 10
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(3000),
    params:
        pairs=config["correlation"]["pairs"],
        primary_window=config["correlation"]["primary_window"],
        unusual_history=config["regimes"]["unusual_history"],
        unusual_level=config["regimes"]["unusual_level"],
        sign=config["regimes"]["sign"],
        markov=config["regimes"]["markov"],
        dcc=config["regimes"]["dcc"],
        horizon_windows=config["regimes"]["horizons"],
        stress=config["stress"],
        exceedance_settings=config["regimes"]["exceedance"],
        outlier_z=config["dq"]["outlier_z"],
    script:
        "../scripts/step.py"


rule dq:
    input:
        raw=raw_files(),
        ok=ok_files(),
    output:
        md=report(
            "docs/dq_report.md",
            caption="../report/dq_report.rst",
            category="Data quality",
        ),
        json_path="docs/dq_report.json",
    log:
        "logs/dq.log",
    benchmark:
        "logs/benchmarks/dq.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        series=config["series"],
        start=config["start"],
        end=END,
        stale_days=config["dq"]["stale_days"],
        max_gap_days=config["clean"]["max_gap_days"],
        pairs=config["correlation"]["pairs"],
        outlier_z=config["dq"]["outlier_z"],
        stop_on_fail=config["dq"]["stop_on_fail"],
        base_currency=config["base_currency"],
    script:
        "../scripts/step.py"


# DQ's calendar suggestions (if any) applied one at a time: how each pair's correlation
# changes; the report says it. dq reads the raw files only, so this adds no cycle.
rule calendar_effect:
    input:
        raw=raw_files(),
        ok=ok_files(),
        dq=rules.dq.output.json_path,
    output:
        out="data/processed/calendar_effect.csv",
    log:
        "logs/calendar_effect.log",
    benchmark:
        "logs/benchmarks/calendar_effect.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        series=config["series"],
        start=config["start"],
        end=END,
        base_currency=config["base_currency"],
        max_gap_days=config["clean"]["max_gap_days"],
        pairs=config["correlation"]["pairs"],
        window=config["correlation"]["primary_window"],
    script:
        "../scripts/step.py"


rule model:
    input:
        features=rules.features.output.out,
        corr=rules.rolling_corr.output.out,
    output:
        model="models/corr_forecast.pkl",
        logit="models/comove_logit.pkl",
        metrics="models/metrics.json",
    log:
        "logs/model.log",
    benchmark:
        "logs/benchmarks/model.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(2000),
    params:
        pair=config["model"]["pair"],
        window=config["correlation"]["primary_window"],
        horizon=config["model"]["horizon"],
        train_fraction=config["model"]["train_fraction"],
    script:
        "../scripts/step.py"
