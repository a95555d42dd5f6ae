"""Report figures: one module per figure behind ``base.Figure``, and the one registry.

The registry drives both sides: report.py draws every figure and embeds its section in
docs/report.md in this order, and the report rule declares each file as a named output
(with its caption and category for Snakemake's HTML report) through ``rule_outputs``.

Adding a figure: write ``_figures/<name>.py`` with a ``FIGURE = Figure(...)`` (its
caption in workflow/report/), add one line below.
"""

from _figures import heatmap, pair, regimes
from _figures.base import Figure, ReportContext

REGISTRY: list[Figure] = [
    pair.FIGURE,
    heatmap.FIGURE,
    regimes.FIGURE,
]

__all__ = ["REGISTRY", "Figure", "ReportContext", "rule_outputs"]


def rule_outputs(pairs, directory: str = "docs", without_data=(), report=None) -> dict:
    """The report rule's figure outputs: {output name: file, or a list of files per pair}.

    With ``report`` (Snakemake's ``report()``), each file is marked for the HTML report with
    its caption and category, except a pair figure where a series has no data
    (``without_data``): that one is drawn as a notice and gets no placeholder there.
    """
    outputs = {}
    for figure in REGISTRY:
        files = []
        for pair_ids, name in figure.files(pairs):
            path = f"{directory}/{name}"
            if report is not None and not (pair_ids and set(pair_ids) & set(without_data)):
                labels = {"labels": {"pair": f"{pair_ids[0]}_vs_{pair_ids[1]}"}} if pair_ids else {}
                path = report(path, caption=f"../report/{figure.caption}", category=figure.category, **labels)
            files.append(path)
        outputs[figure.output] = files if figure.per_pair else files[0]
    return outputs
