# Every pair of the universe (optional, `all_pairs: enabled: true`): the pairs are split
# into `all_pairs.n_blocks` blocks (or as many as `all_pairs.mem_mb` needs), one job each,
# then listed in a manifest. A block keeps every day or month-end matrices (`all_pairs.dates`),
# and the every day of `all_pairs.history_of`'s pairs in its history file. A block's pairs
# go to two part files (split by first series), encoded side by side on the job's two threads.


wildcard_constraints:
    scatteritem=r"\d+-of-\d+",


rule all_pairs_block:
    input:
        prices=rules.clean.output.out,
    output:
        out=[
            "data/processed/all_pairs/block_{scatteritem}.part1.parquet",
            "data/processed/all_pairs/block_{scatteritem}.part2.parquet",
        ],
        history_out="data/processed/all_pairs/history_{scatteritem}.parquet",
    log:
        "logs/all_pairs/block_{scatteritem}.log",
    benchmark:
        "logs/benchmarks/all_pairs/block_{scatteritem}.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 2
    resources:
        mem_mb=all_pairs_mem_mb,
    params:
        window=config["all_pairs"]["window"],
        dtype=config["all_pairs"]["dtype"],
        block=scatter_block,
        n_blocks=config["all_pairs"]["n_blocks"],
        dates=config["all_pairs"]["dates"],
        history_of=config["all_pairs"]["history_of"],
    script:
        "../scripts/step.py"


rule all_pairs:
    input:
        blocks=gather.all_pairs("data/processed/all_pairs/block_{scatteritem}.part1.parquet")
        + gather.all_pairs("data/processed/all_pairs/block_{scatteritem}.part2.parquet"),
        histories=gather.all_pairs("data/processed/all_pairs/history_{scatteritem}.parquet"),
    output:
        manifest="data/processed/all_pairs/manifest.json",
    log:
        "logs/all_pairs/manifest.log",
    benchmark:
        "logs/benchmarks/all_pairs/manifest.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(500, per_series_day=0),
    script:
        "../scripts/step.py"
