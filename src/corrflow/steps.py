"""The workflow's steps: which module's ``run()`` does each rule's work, under which command.

Standard library only: the ``corrflow`` command reads this (and each ``run()``'s signature,
from its source) to answer ``--help`` without importing pandas, and the rule adapter
(``corrflow.workflow.run_rule``) to find a rule's ``run()``.

A step's ``run()`` keyword names ARE its rule's named input, output and params; a setting's
default and help come from the config schema, found under the step's config ``sections``
by the parameter's name (``settings`` names the schema key where the names differ).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    rule: str  # the rule's name in workflow/rules/*.smk
    module: str  # the module whose run() does the work
    summary: str  # one line for `corrflow --help`
    sections: tuple[str, ...] = ("",)  # config sections searched for a parameter's default ("" = top level)
    settings: dict[str, str] = field(default_factory=dict)  # parameter -> schema key, where names differ

    @property
    def command(self) -> str:
        return COMMAND_OF.get(self.rule, self.rule.replace("_", "-"))


COMMAND_OF = {"all_pairs": "all-pairs-manifest"}  # commands named before their rules were

STEPS = {
    step.command: step
    for step in (
        Step(
            "ingest",
            "corrflow.data.ingest",
            "download (or take from cache/snapshot) one source's series",
        ),
        Step(
            "clean",
            "corrflow.data.clean",
            "lay raw series on their calendars, convert currencies",
            ("", "clean", "correlation"),
        ),
        Step(
            "calendar_effect",
            "corrflow.analytics.correlation.calendar_effect",
            "what DQ's calendar suggestions change in each pair's correlation",
            ("", "clean", "correlation"),
            {"window": "correlation.primary_window"},
        ),
        Step("features", "corrflow.analytics.features", "returns, excess returns and lags", ("features",)),
        Step(
            "rolling_corr",
            "corrflow.analytics.correlation.rolling_corr",
            "rolling correlations of pairs (the seed's command)",
            ("correlation",),
        ),
        Step(
            "all_pairs_block",
            "corrflow.store.block",
            "every pair's rolling correlation, one block",
            ("all_pairs",),
        ),
        Step("all_pairs", "corrflow.store.manifest", "list the all-pairs blocks of a run"),
        Step(
            "regimes",
            "corrflow.analytics.regimes.regimes",
            "sign regimes, Markov states, DCC, stress episodes",
            ("regimes", "correlation", "dq", ""),
            {"horizon_windows": "regimes.horizons", "exceedance_settings": "regimes.exceedance"},
        ),
        Step(
            "universe",
            "corrflow.store.universe",
            "the universe's matrices, clusters and absorption ratio for the report and the dashboard",
            ("correlation", "report", ""),
            {"window": "correlation.primary_window", "exclude": "report.heatmap_exclude"},
        ),
        Step(
            "dq",
            "corrflow.data.dq",
            "data-quality report of the raw files",
            ("dq", "clean", "correlation", ""),
        ),
        Step(
            "model",
            "corrflow.analytics.model",
            "forecast model of a pair's correlation",
            ("model", "correlation"),
        ),
        Step(
            "report",
            "corrflow.present.report",
            "docs/report.md and its figures",
            ("report", "correlation", ""),
        ),
        Step(
            "dashboard",
            "corrflow.present.dashboard",
            "docs/dashboard.html",
            ("report", "correlation", ""),
        ),
    )
}

STEP_OF_RULE = {step.rule: step for step in STEPS.values()}
