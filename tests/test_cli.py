"""The ``corrflow`` command is generated from each step's ``run()`` and the config schema,
and a rule's named input, output and params are that same ``run()``'s keywords."""

import ast
import json
import re
import subprocess
import sys

import pytest

from conftest import ROOT, corrflow_command
from corrflow.cli import (
    REQUIRED,
    check_against_schema,
    parse_step_arguments,
    run_signature,
    schema_default,
    schema_node,
    step_parser,
)
from corrflow.steps import STEP_OF_RULE, STEPS


def test_every_step_answers_help_without_importing_pandas_or_numpy():
    code = (
        "import sys\n"
        "from corrflow.cli import main\n"
        f"for command in {sorted(STEPS)!r}:\n"
        "    try:\n"
        "        main([command, '--help'])\n"
        "    except SystemExit as stop:\n"
        "        assert stop.code == 0, command\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'numba', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in result.stdout
    for command in STEPS:
        assert f"usage: corrflow {command} " in result.stdout


def test_each_run_keyword_is_a_flag_with_the_schema_default_and_help():
    for step in STEPS.values():
        _, parameters, _ = run_signature(step.module)
        assert parameters, step.module
        parser, settings = step_parser(step)
        flags = {a.dest: a for a in parser._actions}
        for parameter in parameters:
            assert parameter.name in flags, (step.command, parameter.name)
            assert flags[parameter.name].help, (step.command, parameter.name)
        for name, (key, node) in settings.items():
            expected = schema_default(node)
            if flags[name].default is not None and expected is not None:
                assert flags[name].default == expected, (step.command, name, key)
    parser, settings = step_parser(STEPS["rolling-corr"])
    assert settings["confidence"][0] == "correlation.confidence"
    assert settings["ewma_halflife"][0] == "correlation.ewma_halflife"
    assert "prices" not in settings  # an input file is no setting
    parser, settings = step_parser(STEPS["report"])
    assert "clean" not in settings and "regimes" not in settings and "dq" not in settings


def test_a_command_given_only_defaults_checks_nothing_again_and_every_default_passes_the_check():
    """A setting left at its schema default is not checked again at every command
    (importing jsonschema is part of a command's fixed cost): every setting's default
    passes the check, and a command given only defaults does not import jsonschema."""
    import yaml

    from corrflow.config.schema import SCHEMA_PATH, load_schema

    assert load_schema() == yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))  # libyaml: same schema
    checked = 0
    for step in STEPS.values():
        _, settings = step_parser(step)
        for name, (_, node) in settings.items():
            if schema_default(node) is not REQUIRED:
                check_against_schema(schema_default(node), node, name)
                checked += 1
    assert checked > 20
    code = (
        "import sys\n"
        "from corrflow.cli import parse_step_arguments\n"
        "from corrflow.steps import STEPS\n"
        "parse_step_arguments(STEPS['all-pairs-block'], ['--prices', 'p.parquet', '--out', 'a.parquet'])\n"
        "print('JSONSCHEMA', 'jsonschema' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "JSONSCHEMA False" in result.stdout


def test_a_setting_given_in_part_is_completed_from_the_schema_and_checked_against_it(capsys):
    base = ["--corr", "c.csv", "--clean", "p.parquet", "--out", "r.parquet"]
    base += ["--episodes", "e.csv", "--horizons", "h.csv", "--exceedance", "x.csv"]
    arguments, *_ = parse_step_arguments(STEPS["regimes"], [*base, "--dcc", '{"min_obs": 250}'])
    assert arguments["dcc"] == {**schema_default(schema_node("regimes.dcc")), "min_obs": 250}
    assert arguments["stress"] == schema_default(schema_node("stress"))
    with pytest.raises(SystemExit) as stop:
        parse_step_arguments(STEPS["regimes"], [*base, "--dcc", '{"min_obs": "many"}'])
    assert stop.value.code == 2
    assert "--dcc: 'many' is not of type 'integer'" in capsys.readouterr().err


def test_a_bad_value_is_one_line_naming_the_flag():
    result = subprocess.run(
        [*corrflow_command("rolling-corr"), "--prices", "x.parquet", "--out", "x.csv", "--confidence", "1.5"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--confidence: 1.5 is greater than or equal to the maximum of 1" in result.stderr


def test_version_and_quiet():
    from corrflow import __version__

    result = subprocess.run([*corrflow_command("--version")], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"corrflow {__version__}"
    (ROOT / "pyproject.toml").read_text().index(f'version = "{__version__}"')


def rule_names(text: str) -> dict[str, dict]:
    """Each rule's named input, output and params, read from a rules file (and whether its
    input is unpacked from a function, whose names the text does not show)."""
    rules: dict[str, dict] = {}
    rule = part = None
    for line in text.splitlines():
        if m := re.match(r"rule (\w+):", line):
            rule, part = m.group(1), None
            rules[rule] = {"names": set(), "unpacked": False}
        elif rule and (m := re.match(r"    (\w+):", line)):
            part = m.group(1)
        elif rule and part in ("input", "output", "params"):
            if m := re.match(r"        (\w+)=", line):
                rules[rule]["names"].add(m.group(1))
            rules[rule]["unpacked"] |= "unpack(" in line
    return rules


def test_every_rule_declares_exactly_its_runs_keywords():
    """The rule is the one declaration: its names are run()'s, nothing restated elsewhere."""
    seen = set()
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for rule, declared in rule_names(smk.read_text()).items():
            if rule not in STEP_OF_RULE:
                continue
            seen.add(rule)
            _, parameters, takes_extra = run_signature(STEP_OF_RULE[rule].module)
            keywords = {p.name for p in parameters}
            assert declared["names"] <= keywords, (rule, declared["names"] - keywords)
            required = {p.name for p in parameters if p.default is REQUIRED}
            if not declared["unpacked"]:
                assert required <= declared["names"], (rule, required - declared["names"])
    assert seen == set(STEP_OF_RULE), set(STEP_OF_RULE) - seen


def test_one_rule_script_and_no_hand_written_argument_parsing_in_steps():
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    assert [s.name for s in scripts] == ["step.py"]
    assert "run_rule(snakemake)" in scripts[0].read_text()
    for step in STEPS.values():
        tree = ast.parse((ROOT / "src" / step.module.replace(".", "/")).with_suffix(".py").read_text())
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "run" in names and not {"parse_args", "main"} & names, step.module
        assert "argparse" not in {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}


def test_the_command_lists_every_step():
    result = subprocess.run(corrflow_command("--help"), capture_output=True, text=True, check=True)
    for command, step in STEPS.items():
        assert re.search(rf"^  {re.escape(command)} +{re.escape(step.summary)}$", result.stdout, re.M)
    assert json.loads(json.dumps(sorted(STEPS)))  # the registry is plain data


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("rolling_corr", "rolling-corr"), ("all_pairs", "all-pairs-manifest"), ("regmes", "regimes")],
)
def test_an_unknown_subcommand_suggests_the_command_meant(typed, meant):
    """A rule's name finds its command; a typo its closest command."""
    result = subprocess.run([*corrflow_command(typed), "--help"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(f"corrflow: unknown subcommand {typed!r} (did you mean {meant!r}?)")


@pytest.mark.parametrize("arguments", [["--help"], ["regimes", "--help"], ["--version"]])
def test_a_reader_that_stops_early_gets_no_traceback(arguments):
    """`corrflow --help | head -1`: the pipe closed before the command writes ends it
    quietly (it used to print a BrokenPipeError traceback)."""
    import subprocess

    process = subprocess.Popen(
        [*corrflow_command(arguments[0]), *arguments[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader is gone before the command has started
    _, stderr = process.communicate(timeout=60)
    assert b"Traceback" not in stderr and b"BrokenPipeError" not in stderr, stderr.decode()
    assert process.returncode in (0, 1)
