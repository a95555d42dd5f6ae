"""The one adapter between a Snakemake rule and its step: every rule's script is

    from corrflow.workflow import run_rule
    run_rule(snakemake)

which calls the step's ``run(**input, **output, **params)`` (corrflow.steps names the
module), with the rule's log file, its thread count and one-line errors. A params dict
for a keyword ``run()`` annotates with a config section (``markov: Markov``) reaches it
as that section's dataclass (``corrflow.config.sections.typed_arguments``, as the command does).
"""

from importlib import import_module
from typing import Any

from corrflow.config.errors import ConfigError
from corrflow.config.sections import typed_arguments
from corrflow.io import InputDataError, configure_logging, limit_threads, one_line_errors
from corrflow.steps import STEP_OF_RULE


def files(namedlist) -> dict[str, str | list[str]]:
    """A rule's named input or output: a file as str, a list of files as a list of str."""
    return {
        name: [str(path) for path in value] if isinstance(value, list) else str(value)
        for name, value in namedlist.items()
    }


def rule_arguments(smk) -> dict[str, Any]:
    """The keyword arguments of a rule's ``run()``: its named input, output and params."""
    arguments: dict[str, Any] = {}
    for part in (files(smk.input), files(smk.output), dict(smk.params.items())):
        for name, value in part.items():
            if name in arguments:
                raise ValueError(f"rule {smk.rule}: {name!r} names two of its input/output/params")
            arguments[name] = value
    return arguments


def run_rule(smk) -> None:
    """Run the step of the rule that ``smk`` (the ``snakemake`` object) describes."""
    configure_logging(smk.log[0] if len(smk.log) else None)
    limit_threads(smk.threads)
    with one_line_errors():
        step = STEP_OF_RULE[smk.rule]
        run = import_module(step.module).run
        try:
            arguments = typed_arguments(run, rule_arguments(smk))
        except ConfigError as err:  # a params dict that is not its section: one line, no frames
            raise InputDataError(f"rule {smk.rule}: {err}") from None
        run(**arguments)
