# Every pair of the universe (optional, `all_pairs: enabled: true`): the pairs are split
# into `all_pairs.n_blocks` blocks, one job each, then listed in a manifest.


wildcard_constraints:
    scatteritem=r"\d+-of-\d+",


rule all_pairs_block:
    input:
        prices=rules.clean.output.out,
    output:
        out="data/processed/all_pairs/block_{scatteritem}.parquet",
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
    script:
        "../scripts/all_pairs_block.py"


rule all_pairs:
    input:
        blocks=gather.all_pairs("data/processed/all_pairs/block_{scatteritem}.parquet"),
    output:
        manifest="data/processed/all_pairs/manifest.json",
    log:
        "logs/all_pairs/manifest.log",
    benchmark:
        "logs/benchmarks/all_pairs/manifest.tsv"
    conda:
        "../../envs/analysis.yaml"
    resources:
        mem_mb=memory_mb(500),
    script:
        "../scripts/all_pairs_manifest.py"
