"""Settings reach the steps as one typed object per config section: the dataclasses hold
exactly the schema's keys, and one adapter (``typed_arguments``) turns the plain mappings
of a rule's params and of the command's JSON flags into them."""

import dataclasses
import json
import sys
import textwrap
from types import SimpleNamespace

import pytest

from corrflow.config.errors import ConfigError
from corrflow.config.schema import load_schema
from corrflow.config.sections import (
    SECTION_OF_KEY,
    Markov,
    Network,
    Regimes,
    Sign,
    Stress,
    as_section,
    section_class,
    typed_arguments,
)
from corrflow.io import schema_defaults

DEFAULTS = schema_defaults()


def schema_objects(node: dict, prefix: str = "") -> dict[str, dict]:
    """Every config object with properties, by its key (``regimes.markov``)."""
    found = {}
    for key, child in node.get("properties", {}).items():
        if child.get("type") == "object" and "properties" in child:
            found[f"{prefix}{key}"] = child
            found |= schema_objects(child, f"{prefix}{key}.")
    return found


def test_every_section_dataclass_holds_exactly_the_schemas_keys():
    objects = schema_objects(load_schema())
    assert set(SECTION_OF_KEY) == set(objects)
    for key, kind in SECTION_OF_KEY.items():
        assert [f.name for f in dataclasses.fields(kind)] == list(objects[key]["properties"]), key


def test_a_mapping_becomes_its_section_nested_ones_too():
    markov = as_section(Markov, DEFAULTS["regimes"]["markov"], "markov")
    assert isinstance(markov, Markov) and markov.max_iter == DEFAULTS["regimes"]["markov"]["max_iter"]
    regimes = Regimes.from_dict(DEFAULTS["regimes"])
    assert isinstance(regimes.sign, Sign) and regimes.sign.enter == DEFAULTS["regimes"]["sign"]["enter"]
    assert regimes.horizons.weekly == DEFAULTS["regimes"]["horizons"]["weekly"]
    assert regimes.as_dict() == DEFAULTS["regimes"]  # and back, for the metadata written to files
    assert as_section(Markov, markov, "markov") is markov
    with pytest.raises(dataclasses.FrozenInstanceError):
        markov.max_iter = 5


def test_an_unknown_key_is_one_line_naming_it():
    with pytest.raises(ConfigError) as caught:
        as_section(Markov, {**DEFAULTS["regimes"]["markov"], "max_iters": 5}, "markov")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("setting `markov`: unknown key 'max_iters'; Markov has enabled, k_regimes")
    with pytest.raises(ConfigError, match=r"setting `regimes.sign`: unknown key 'enterr'"):
        Regimes.from_dict(
            {**DEFAULTS["regimes"], "sign": {**DEFAULTS["regimes"]["sign"], "enterr": 1}}, "regimes"
        )
    with pytest.raises(ConfigError, match=r"setting `sign`: expected a mapping of enter, exit"):
        as_section(Sign, [0.1, -0.1], "sign")


def test_a_missing_key_is_one_line_naming_it():
    with pytest.raises(ConfigError, match=r"^setting `markov`: key 'enabled' is missing; give it"):
        as_section(Markov, {"max_iter": 5}, "markov")


def test_only_keywords_annotated_with_a_section_are_converted():
    def run(*, markov: Markov, network: "Network", pairs: list, options: dict, out: str) -> None: ...

    given = {
        "markov": DEFAULTS["regimes"]["markov"],
        "network": DEFAULTS["network"],
        "pairs": [["A", "B"]],
        "options": {"a": 1},
        "out": "x.csv",
    }
    typed = typed_arguments(run, given)
    assert isinstance(typed["markov"], Markov) and isinstance(
        typed["network"], Network
    )  # a string annotation too
    assert typed["pairs"] == [["A", "B"]] and typed["options"] == {"a": 1} and typed["out"] == "x.csv"
    assert given["markov"] is DEFAULTS["regimes"]["markov"]  # the caller's mapping is left as it was
    assert section_class("Stress") is Stress and section_class("dict") is None and section_class(list) is None


REGIMES_FILES = [
    *["--corr", "c.csv", "--clean", "c.parquet", "--out", "r.parquet", "--episodes", "e.csv"],
    *["--horizons", "h.csv", "--exceedance", "x.csv", "--pairs", json.dumps([["SPY", "TLT"]])],
]


def test_the_command_completes_a_partial_setting_from_the_schema_and_passes_the_section():
    from corrflow.analytics.regimes.regimes import run
    from corrflow.cli import parse_step_arguments
    from corrflow.steps import STEPS

    arguments, _, _ = parse_step_arguments(STEPS["regimes"], [*REGIMES_FILES, "--markov", '{"max_iter": 70}'])
    typed = typed_arguments(run, arguments)
    assert isinstance(typed["markov"], Markov) and typed["markov"].max_iter == 70
    assert typed["markov"].min_obs == DEFAULTS["regimes"]["markov"]["min_obs"]  # from the schema
    assert typed["sign"] == Sign.from_dict(DEFAULTS["regimes"]["sign"])  # not given: the schema's
    assert typed["stress"].equity is None and typed["exceedance_settings"].min_count == 20


def test_the_command_refuses_an_unknown_key_naming_its_flag(capsys):
    from corrflow.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["regimes", *REGIMES_FILES, "--markov", '{"max_iters": 70}'])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--markov" in error and "max_iters" in error


@pytest.fixture
def fake_step(tmp_path, monkeypatch):
    """A step module whose run() records what it received, reached by rule name ``fake``."""
    module = tmp_path / "fake_step_for_sections.py"
    module.write_text(
        textwrap.dedent(
            """
            from corrflow.config.sections import Markov

            RECEIVED = {}

            def run(*, markov: Markov, out: str, window: int) -> None:
                RECEIVED.update(markov=markov, out=out, window=window)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import corrflow.workflow as workflow

    monkeypatch.setattr(workflow, "STEP_OF_RULE", {"fake": SimpleNamespace(module="fake_step_for_sections")})
    monkeypatch.setattr(workflow, "configure_logging", lambda *args, **kwargs: None)
    yield workflow
    sys.modules.pop("fake_step_for_sections", None)


def snakemake_object(params: dict) -> SimpleNamespace:
    """What a rule script receives, as far as run_rule reads it."""

    class Named(dict):
        pass

    return SimpleNamespace(
        rule="fake", log=[], threads=1, input=Named(), output=Named(out="o.csv"), params=Named(params)
    )


def test_a_rules_params_reach_run_as_the_section(fake_step):
    fake_step.run_rule(snakemake_object({"markov": DEFAULTS["regimes"]["markov"], "window": 60}))
    received = sys.modules["fake_step_for_sections"].RECEIVED
    assert isinstance(received["markov"], Markov) and received["markov"].max_iter == 1000
    assert received["out"] == "o.csv" and received["window"] == 60


def test_a_rules_params_with_an_unknown_key_end_with_one_line(fake_step, caplog):
    with pytest.raises(SystemExit) as caught:
        fake_step.run_rule(
            snakemake_object({"markov": {**DEFAULTS["regimes"]["markov"], "bogus": 1}, "window": 60})
        )
    assert caught.value.code == 1
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert line.startswith("rule fake: setting `markov`: unknown key 'bogus'; Markov has enabled")
    assert sys.modules["fake_step_for_sections"].RECEIVED == {}  # run() was not called
