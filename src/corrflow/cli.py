"""The ``corrflow`` command: one subcommand per step of the workflow, generated from the
step's ``run()`` signature and the config schema, for use without Snakemake.

    corrflow rolling-corr --prices data/processed/clean.parquet --eq-col SPY --bond-col TLT \\
        --window 60 --out data/processed/rolling_corr.csv
    corrflow --help | --version

A ``run()`` keyword becomes a flag (``max_gap_days`` -> ``--max-gap-days``); its type comes
from the annotation, its default and help from the schema key of that name under the step's
config sections (corrflow.steps), else from ``run()`` itself. A setting given in part (a JSON
object) is completed from the schema's defaults, and every value is checked against the
schema, as the workflow checks config.yaml; a keyword annotated with a config section
(``markov: Markov``) then reaches ``run()`` as that dataclass (``typed_arguments``, the one
adapter ``corrflow.workflow.run_rule`` uses too). The signature is read from the module's source,
so ``--help`` answers without importing pandas.
"""

import argparse
import ast
import difflib
import json
import logging
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import Any

from corrflow import __version__
from corrflow.config.sections import section_class, typed_arguments
from corrflow.steps import STEPS, Step

PACKAGE = Path(__file__).resolve().parent
REQUIRED = object()


@dataclass
class Parameter:
    name: str
    annotation: str  # as written in run()'s signature
    default: Any  # run()'s default, or REQUIRED
    help: str  # from run()'s docstring ("name: text" lines)


def module_file(module: str) -> Path:
    return PACKAGE.joinpath(*module.split(".")[1:]).with_suffix(".py")


@lru_cache
def run_signature(module: str) -> tuple[str, list[Parameter], bool]:
    """(docstring of the module, run()'s keyword parameters, whether it takes **extra),
    read from the module's source without importing it."""
    tree = ast.parse(module_file(module).read_text(encoding="utf-8"))
    run = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run")
    helps = {}
    for line in (ast.get_docstring(run) or "").splitlines():
        name, sep, text = line.strip().partition(": ")
        if sep and name.isidentifier():
            helps[name] = text
    parameters = []
    for arg, default in zip(run.args.kwonlyargs, run.args.kw_defaults, strict=True):
        parameters.append(
            Parameter(
                arg.arg,
                ast.unparse(arg.annotation) if arg.annotation else "str",
                REQUIRED if default is None else ast.literal_eval(default),
                helps.get(arg.arg, ""),
            )
        )
    return ast.get_docstring(tree) or "", parameters, run.args.kwarg is not None


@lru_cache
def schema() -> dict:
    from corrflow.config.schema import load_schema

    return load_schema()


def schema_node(key: str) -> dict | None:
    node = schema()
    for part in key.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def setting_of(step: Step, parameter: Parameter) -> tuple[str, dict] | None:
    """The schema key (and node) of a ``run()`` parameter, if it is a setting: the key of its
    name under the step's sections, where a section (an object) takes a dict or a Section
    dataclass (so the input file ``clean`` is not the settings section ``clean``)."""
    name = parameter.name
    if name in step.settings:
        keys = [step.settings[name]]
    else:
        keys = [f"{section}.{name}".lstrip(".") for section in step.sections]
    for key in keys:
        node = schema_node(key)
        takes_object = (
            parameter.annotation.startswith("dict") or section_class(parameter.annotation) is not None
        )
        if node is not None and ("properties" in node) == takes_object:
            return key, node
    return None


def schema_default(node: dict) -> Any:
    """A schema node's default, objects completed from their properties' defaults."""
    if "properties" in node:
        value = dict(node.get("default") or {})
        for key, child in node["properties"].items():
            child_default = schema_default(child)
            if child_default is not REQUIRED:
                value.setdefault(key, child_default)
        return value
    return node.get("default", REQUIRED)


def check_against_schema(value: Any, node: dict, flag: str) -> None:
    try:
        import jsonschema
    except ImportError:  # the workflow checks config.yaml; a bare install checks in run()
        return
    validator_class = jsonschema.validators.validator_for(schema())
    error = jsonschema.exceptions.best_match(
        validator_class({**node, "$defs": schema().get("$defs", {})}).iter_errors(value)
    )
    if error is not None:
        raise argparse.ArgumentTypeError(f"{flag}: {error.message}")


def value_parser(annotation: str):
    """argparse ``type`` and ``nargs`` for a parameter annotated ``annotation``."""
    plain = annotation.replace(" | None", "").replace("None | ", "")
    if plain in ("str", "Path", "str | Path"):
        return {"type": str}
    if plain == "int":
        return {"type": int}
    if plain == "float":
        return {"type": float}
    if plain == "bool":
        return {"type": parse_bool, "metavar": "{true,false}"}
    if plain in ("list[str]", "list[Path]"):
        return {"type": str, "nargs": "*"}
    if plain == "list[int]":
        return {"type": int, "nargs": "+"}
    return {"type": json.loads, "metavar": "JSON"}  # lists of pairs, dicts of settings


def parse_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def first_line(text: str) -> str:
    return " ".join(text.split())


def step_parser(step: Step) -> tuple[argparse.ArgumentParser, dict[str, tuple[str, dict]]]:
    doc, parameters, _ = run_signature(step.module)
    parser = argparse.ArgumentParser(
        prog=f"corrflow {step.command}",
        description=f"{step.summary}. {doc.splitlines()[0] if doc else ''}",
        epilog=f"rule `{step.rule}` of the workflow runs the same run() ({step.module})",
    )
    settings = {}
    for parameter in parameters:
        flag = "--" + parameter.name.replace("_", "-")
        found = setting_of(step, parameter)
        options = value_parser(parameter.annotation)
        help_text = parameter.help
        default = parameter.default
        if found is not None:
            key, node = found
            settings[parameter.name] = found
            help_text = help_text or first_line(node.get("description", ""))
            help_text += f" (config `{key}`)"
            if default is REQUIRED:
                default = schema_default(node)
        help_text = help_text.replace("%", "%%")  # argparse formats help with %
        if default is REQUIRED:
            parser.add_argument(flag, required=True, help=help_text, **options)
        else:
            shown = json.dumps(default) if options["type"] is json.loads else default
            shown = str(shown).replace("%", "%%")
            parser.add_argument(flag, default=default, help=f"{help_text} (default: {shown})", **options)
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for compiled kernels (default: all)"
    )
    parser.add_argument("--log", default=None, help="log file (default: stderr only)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    return parser, settings


def parse_step_arguments(
    step: Step, argv: list[str]
) -> tuple[dict[str, Any], argparse.Namespace, argparse.ArgumentParser]:
    """The keyword arguments of ``step``'s ``run()`` from a command line (and the parsed
    namespace and parser, for the logging flags and usage errors)."""
    _, parameters, takes_extra = run_signature(step.module)
    parser, settings = step_parser(step)
    args, rest = parser.parse_known_args(argv) if takes_extra else (parser.parse_args(argv), [])
    arguments = {p.name: getattr(args, p.name) for p in parameters}
    for name, (_, node) in settings.items():
        value = arguments[name]
        if isinstance(value, dict) and "properties" in node:  # part of a setting: the rest from the schema
            value = arguments[name] = {**schema_default(node), **value}
        default = schema_default(node)
        if (
            value is not None and default is not REQUIRED and value != default
        ):  # `series`, `start`: data, not settings; a default is valid (tests/test_config.py)
            try:
                check_against_schema(value, node, "--" + name.replace("_", "-"))
            except argparse.ArgumentTypeError as err:
                parser.error(str(err))
    arguments.update(extra_arguments(parser, rest))
    return arguments, args, parser


def extra_arguments(parser: argparse.ArgumentParser, rest: list[str]) -> dict[str, list[str]]:
    """``--name value ...`` flags a ``run(**extra)`` takes (the report's figure outputs)."""
    extra: dict[str, list[str]] = {}
    name = None
    for word in rest:
        if word.startswith("--"):
            name = word[2:].replace("-", "_")
            extra[name] = []
        elif name is None:
            parser.error(f"unrecognized argument: {word}")
        else:
            extra[name].append(word)
    return extra


def usage() -> str:
    width = max(map(len, STEPS))
    lines = [f"  {name:<{width}}  {step.summary}" for name, step in STEPS.items()]
    return (
        "usage: corrflow SUBCOMMAND [options]  (corrflow SUBCOMMAND --help; corrflow --version)\n\n"
        + "\n".join(lines)
    )


def main(argv: list[str] | None = None) -> None:
    """The ``corrflow`` command. A reader that stops early (``corrflow --help | head -1``)
    ends it quietly: no traceback for the closed pipe."""
    try:
        try:
            run_command(argv)
        finally:  # also after --help's exit: here, not at exit, where a closed pipe is past catching
            sys.stdout.flush()
    except BrokenPipeError:
        # Python's documented way: stdout to devnull, so the interpreter's last flush is silent
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def run_command(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return
    if argv[0] == "--version":
        print(f"corrflow {__version__}")
        return
    if argv[0] not in STEPS:
        # a rule's name (rolling_corr) finds its command (rolling-corr)
        by_rule = {step.rule: command for command, step in STEPS.items()}
        close = by_rule.get(argv[0]) or next(iter(difflib.get_close_matches(argv[0], STEPS, n=1)), None)
        hint = f" (did you mean {close!r}?)" if close else ""
        print(f"corrflow: unknown subcommand {argv[0]!r}{hint}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    step = STEPS[argv[0]]
    arguments, args, parser = parse_step_arguments(step, argv[1:])
    from corrflow.config.errors import ConfigError
    from corrflow.io import ArgumentError, configure_logging, limit_threads, one_line_errors  # after --help

    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    configure_logging(args.log, level)
    limit_threads(args.threads)
    with one_line_errors():
        try:
            run = import_module(step.module).run
            try:
                arguments = typed_arguments(run, arguments)
            except ConfigError as error:  # a setting that is not its section: a usage error
                parser.error(str(error))
            run(**arguments)
        except ArgumentError as error:  # an argument run() refuses: a usage error on its flag
            parser.error(f"argument --{error.name.replace('_', '-')}: {error.detail}")


if __name__ == "__main__":
    main()
