"""Report figures: one module per figure, and the one registry.

The registry drives both sides: the report draws every figure and embeds its section in
docs/report.md in this order, and the report rule declares each file as a named output
(with its caption and category for Snakemake's HTML report) through ``rule_outputs``.
It imports nothing beyond the standard library: the Snakefile reads it at parse time,
with only Snakemake installed; a figure's module (matplotlib, pandas) is imported when
it is drawn.

Adding a figure: write ``corrflow/present/figures/<name>.py`` with ``section(context)`` (its
caption in workflow/report/), and add one ``Figure(...)`` line below.
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Figure:
    """One report figure (per configured pair, or one for the run).

    output: the report rule's output name and the report command's ``--<output>`` flag.
    file: its file name beside docs/report.md; ``{a}`` and ``{b}`` name the pair when per_pair.
    caption: its caption for Snakemake's HTML report, a file in workflow/report/.
    category: its category in the HTML report.
    section: ``module:function`` (or the function) that draws the figure file(s) into
        ``context.figures_dir`` and returns (the report's markdown section embedding
        them, the file names drawn as charts).
    """

    output: str
    file: str
    caption: str
    category: str
    section: "str | Callable"
    per_pair: bool = False

    def files(self, pairs) -> list[tuple[tuple[str, str] | None, str]]:
        """(pair or None, file name) of every file this figure writes for these pairs."""
        if self.per_pair:
            return [((a, b), self.file.format(a=a, b=b)) for a, b in pairs]
        return [(None, self.file)]

    def draw(self, context) -> tuple[list[str], list[str]]:
        """Draw the figure for a ``figures.base.ReportContext``: (section lines, files drawn)."""
        section = self.section
        if isinstance(section, str):
            module, name = section.split(":")
            section = getattr(import_module(module), name)
        return section(context)


REGISTRY: list[Figure] = [
    Figure(
        output="figures",
        file="fig_corr_{a}_vs_{b}.png",
        caption="fig_corr.rst",
        category="Correlations",
        section="corrflow.present.figures.pair:section",
        per_pair=True,
    ),
    Figure(
        output="exceedance_figures",
        file="fig_exceedance_{a}_vs_{b}.png",
        caption="fig_exceedance.rst",
        category="Correlations",
        section="corrflow.present.figures.exceedance:section",
        per_pair=True,
    ),
    Figure(
        output="heatmap",
        file="fig_heatmap.png",
        caption="fig_heatmap.rst",
        category="Universe",
        section="corrflow.present.figures.heatmap:section",
    ),
    Figure(
        output="timeline",
        file="fig_regimes.png",
        caption="fig_regimes.rst",
        category="Regimes",
        section="corrflow.present.figures.regimes:section",
    ),
]

__all__ = ["REGISTRY", "Figure", "figure", "rule_outputs"]


def figure(output: str) -> Figure:
    """The registered figure of this output name (a figure's module refers to itself so)."""
    return next(f for f in REGISTRY if f.output == output)


def rule_outputs(pairs, directory: str = "docs", without_data=(), report=None) -> dict:
    """The report rule's figure outputs: {output name: file, or a list of files per pair}.

    With ``report`` (Snakemake's ``report()``), each file is marked for the HTML report with
    its caption and category, except a pair figure where a series has no data
    (``without_data``): that one is drawn as a notice and gets no placeholder there.
    """
    outputs = {}
    for entry in REGISTRY:
        files = []
        for pair_ids, name in entry.files(pairs):
            path = f"{directory}/{name}"
            if report is not None and not (pair_ids and set(pair_ids) & set(without_data)):
                labels = {"labels": {"pair": f"{pair_ids[0]}_vs_{pair_ids[1]}"}} if pair_ids else {}
                path = report(path, caption=f"../report/{entry.caption}", category=entry.category, **labels)
            files.append(path)
        outputs[entry.output] = files if entry.per_pair else files[0]
    return outputs
