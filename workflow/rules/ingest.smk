# Task A: one ingest job per source (fred, yahoo, french, csv), in parallel.
# Live source -> verified local cache -> bundled snapshot -> missing, per series.
# The sources are the registry in src/corrflow/data/sources/__init__.py; a test
# checks that it, the schema's source enum and this constraint name the same ones.


wildcard_constraints:
    source="|".join(SOURCE_NAMES),


rule ingest:
    input:
        # a source's own files (local CSVs), unnamed: the step finds them from `paths`;
        # declared so that an edited, added or deleted one re-runs ingest
        source_local_files,
    output:
        csv=ensure("data/raw/{source}.csv", non_empty=True),
        ok="data/raw/{source}.ok",
    log:
        "logs/ingest/{source}.log",
    benchmark:
        "logs/benchmarks/ingest/{source}.tsv"
    localrule: True
    conda:
        "../../envs/ingest.yaml"
    params:
        source="{source}",
        series=source_series,
        start=config["start"],
        end=END,
        # how the data is fetched, not what it is: switching these re-runs no job
        # (corrflow.config.rerun; `--forcerun ingest` fetches again)
        offline=untracked(config["offline"]),
        network=untracked_keys(config["network"], FETCH_ONLY_NETWORK_KEYS),
        paths=config["paths"],
    script:
        "../scripts/step.py"
