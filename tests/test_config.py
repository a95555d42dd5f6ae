"""Issue 27.4: the configuration as a module (corrflow.config), tested without Snakemake:
the load guards, `--config` coercion, validation and defaults, each cross-key check,
resolution (primary window, stress series, `end: latest`) and the all-pairs memory plan.
Real Snakemake runs of the same behaviours: test_config_safety.py, test_no_traceback.py,
test_scale_outputs.py."""

import copy
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from corrflow.config import (
    AllPairsPlan,
    ConfigError,
    check_alias_growth,
    check_config_files,
    coerce_cli_value,
    load_schema,
    resolve,
    schema_defaults,
    validate,
)
from corrflow.data.dates import NEW_YORK
from test_config_safety import BOMB

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=NEW_YORK)  # a Monday: `latest` is Friday 2026-12-04
SHIPPED = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def with_changes(**sections) -> dict:
    """The shipped config with whole keys replaced, or sections merged (a dict value)."""
    config = copy.deepcopy(SHIPPED)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def error_of(config: dict, **kwargs) -> str:
    with pytest.raises(ConfigError) as raised:
        resolve(config, now=NOW, **kwargs)
    message = str(raised.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- load guards


def test_an_alias_bomb_is_refused_before_anything_expands_it():
    with pytest.raises(
        ConfigError, match=r"expand it to [\d,]+ values, [\d,]+ more than written \(at most 10,000\)"
    ):
        check_alias_growth(yaml.safe_load(BOMB))


def test_an_alias_that_contains_itself_is_refused():
    with pytest.raises(ConfigError, match="refers to the mapping or list that holds it"):
        check_alias_growth(yaml.safe_load("a: &a [*a]\nreport: {heatmap_exclude: *a}\n"))


def test_a_few_aliases_are_allowed():
    check_alias_growth(yaml.safe_load("a: &a [1, 2, 3]\nb: *a\nc: *a\n"))
    with pytest.raises(ConfigError, match="at most 3"):
        check_alias_growth(yaml.safe_load("a: &a [1, 2, 3]\nb: *a\nc: *a\n"), limit=3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("offline: true\nmodel:\n  enabled: true\noffline: false\n", "line 4: key `offline` given twice"),
        ("model:\n  horizon: 21\n  pair: null\n  horizon: 5\n", "line 4: key `horizon` given twice"),
    ],
    ids=["top", "nested"],
)
def test_a_key_given_twice_names_the_file_and_both_lines(tmp_path, text, message):
    path = tmp_path / "extra.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as raised:
        check_config_files([str(path)])
    assert str(raised.value).startswith(f"config file {path}, ") and "(first on line" in str(raised.value)


def test_a_merge_key_override_and_an_unreadable_file_are_not_errors(tmp_path):
    merge = tmp_path / "merge.yaml"
    merge.write_text("correlation:\n  <<: {windows: [60], spearman: false}\n  spearman: true\n")
    json_like = tmp_path / "bad.yaml"
    json_like.write_text("{ not yaml: [")
    check_config_files([str(merge), str(json_like), str(tmp_path / "missing.yaml")])


# ---------------------------------------------------------------- coercion, validation, defaults


def test_config_strings_are_read_as_the_schema_types():
    schema = load_schema()
    given = {
        "offline": "true",
        "model": {"horizon": "5", "train_fraction": "0.5", "enabled": "False"},
        "correlation": {"windows": ["60", "20"], "ewma_halflife": "None"},
        "regimes": {"unusual_history": 1e8},
        "base_currency": "USD",
    }
    assert coerce_cli_value(given, schema) == {
        "offline": True,
        "model": {"horizon": 5, "train_fraction": 0.5, "enabled": False},
        "correlation": {"windows": [60, 20], "ewma_halflife": None},
        "regimes": {"unusual_history": 100_000_000},
        "base_currency": "USD",
    }
    assert coerce_cli_value({"offline": "yes"}, schema) == {"offline": "yes"}  # left to validation


def test_validation_fills_every_default_once_and_keeps_what_is_given():
    config = validate({"start": "2020-01-02", "series": SHIPPED["series"], "model": {"horizon": 5}})
    defaults = schema_defaults()
    assert config["model"] == {**defaults["model"], "horizon": 5}
    assert config["correlation"] == defaults["correlation"]
    assert config["regimes"]["markov"]["max_iter"] == 1000
    assert config["end"] == "latest" and config["today"] is None
    # defaults are copies: filling one config does not change the next
    config["correlation"]["windows"].append(5)
    assert validate({"start": "2020-01-02", "series": SHIPPED["series"]})["correlation"]["windows"] == [60]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"correlation": {"windwos": [60]}},
            "config key `correlation.windwos`: unknown key (did you mean `correlation.windows`?); "
            "allowed: pairs, windows",
        ),
        (
            {"correlation": {"windows": "sixty"}},
            "config key `correlation.windows`: got 'sixty' (str); expected array",
        ),
        ({"pairs": [["SPY", "TLT"]]}, "config key `pairs`: unknown key (did you mean `correlation.pairs`?)"),
        ({"offline": "yes"}, "config key `offline`: got 'yes' (str); expected boolean"),
        (
            {"model": {"horizon": 100_000_000}},
            "config key `model.horizon`: 100000000 is greater than the maximum",
        ),
        (
            {"regimes": {"unusual_history": 100_000_000}},
            "config key `regimes.unusual_history`: 100000000 is greater",
        ),
        ({"all_pairs": {"dtype": "float16"}}, "config key `all_pairs.dtype`: got 'float16'; allowed: "),
        (
            {"series": [{"id": "SPY", "source": "yahoo"}]},
            "config key `series[0].kind` (SPY): required, but missing",
        ),
    ],
    ids=["typo", "wrong-type", "moved", "type", "maximum", "unusual-history", "enum", "required"],
)
def test_a_schema_violation_is_one_line_naming_the_key(change, message):
    assert message in error_of(with_changes(**change))


# ---------------------------------------------------------------- resolution


def test_the_primary_window_is_resolved_to_an_integer():
    assert resolve(with_changes(), now=NOW).correlation.primary_window == 60  # the first window
    chosen = resolve(with_changes(correlation={"primary_window": 120}), now=NOW)
    assert chosen.primary_window == chosen.config["correlation"]["primary_window"] == 120
    assert "`correlation.primary_window`: 30 is not one of `correlation.windows` [60, 20, 120]" in error_of(
        with_changes(correlation={"primary_window": 30})
    )


def test_stress_series_are_filled_in_from_the_pairs():
    stress = resolve(with_changes(stress={"equity": None, "bond": None}), now=NOW).stress
    assert (stress.equity, stress.bond) == ("SPY", "DGS10")  # first series of a pair, first yield in one
    no_yield = with_changes(correlation={"pairs": [["TLT", "SPY"]]}, stress={"equity": None, "bond": None})
    settings = resolve(no_yield, now=NOW)
    assert (settings.stress.equity, settings.stress.bond) == ("TLT", None)
    assert settings.config["stress"]["equity"] == "TLT"  # the dict the rules read says the same
    assert settings.stress.drawdown_pct == schema_defaults()["stress"]["drawdown_pct"]


def test_end_latest_and_today_are_resolved_once_from_now():
    settings = resolve(with_changes(), now=NOW)
    assert (settings.end, settings.today) == ("2026-12-04", "2026-12-07")
    fixed = resolve(with_changes(end="2020-12-31", today="2021-01-05"), now=NOW)
    assert (fixed.end, fixed.today) == ("2020-12-31", "2021-01-05")


def test_resolve_leaves_the_given_config_as_it_was():
    config = with_changes(stress={"equity": None})
    before = copy.deepcopy(config)
    resolve(config, now=NOW)
    assert config == before


def test_every_section_object_has_the_schema_keys():
    from corrflow.config import SECTIONS

    schema = load_schema()
    for name, section in SECTIONS.items():
        fields = list(section.__dataclass_fields__)
        assert fields == list(schema["properties"][name]["properties"]), name


# ---------------------------------------------------------------- cross-key checks


def series(*specs: tuple) -> list[dict]:
    return [dict(zip(("id", "source", "kind"), spec, strict=False)) for spec in specs]


CROSS_KEY = [
    (
        {"series": [*SHIPPED["series"], SHIPPED["series"][0]]},
        "config key `series`: duplicated id(s) ['SPY']; ids must be unique",
    ),
    (
        {"series": [*SHIPPED["series"], {"id": "X", "source": "bloomberg", "kind": "price"}]},
        "config key `series` (X): source 'bloomberg' is unknown; allowed: csv, fred, french, yahoo",
    ),
    (
        {"series": [*SHIPPED["series"], {"id": "X", "source": "yahooo", "kind": "price"}]},
        "config key `series` (X): source 'yahooo' is unknown (did you mean 'yahoo'?); allowed: csv,",
    ),
    ({"start": "2020-02-30"}, "config key `start`: '2020-02-30' is not a calendar date (YYYY-MM-DD)"),
    ({"start": "1899-12-29"}, "config key `start`: 1899-12-29 is outside 1900-01-01..2026-12-07 (today); "),
    ({"end": "2099-12-31"}, "config key `end`: 2099-12-31 is outside 1900-01-01..2026-12-07 (today); "),
    (
        {"start": "2020-01-02", "end": "2019-12-31"},
        "config key `end` (2019-12-31) is before `start` (2020-01-02)",
    ),
    (
        {"start": "2020-01-02", "end": "2020-03-31"},
        "config key `correlation.windows`: window 120 is longer than the 64 business days",
    ),
    (
        {"correlation": {"pairs": [["SPY", "TLT"], ["SPY", "SPY"]]}},
        "config key `correlation.pairs`: pair [SPY, SPY] pairs a series with itself",
    ),
    (
        {"correlation": {"pairs": [["SPY", "GLD"]]}},
        "config key `correlation.pairs`: pair [SPY, GLD] names 'GLD', which is not in `series`",
    ),
    (
        {"series": [*SHIPPED["series"], {"id": "Y", "source": "fred", "kind": "yield"}]},
        "config key `series`: yield series 'Y' needs `maturity` (years)",
    ),
    (
        {"series": [*SHIPPED["series"], {"id": "FX", "source": "fred", "kind": "fx"}]},
        "config key `series`: fx series 'FX' needs `base`",
    ),
    (
        {"series": [*SHIPPED["series"], {"id": "T", "source": "csv", "kind": "price", "calendar": "NYSEE"}]},
        "config key `series` (T): calendar: 'NYSEE' is not a calendar of pandas_market_calendars",
    ),
    ({"features": {"cash_rate": "SPY"}}, "config key `features.cash_rate`: 'SPY' must be a yield series"),
    ({"stress": {"vix": "VIX"}}, "config key `stress.vix`: 'VIX' is not in `series`"),
    (
        {"stress": {"episodes": [{"name": "Back", "start": "2020-02-01", "end": "2020-01-01"}]}},
        "config key `stress.episodes`: 'Back' ends before it starts",
    ),
    (
        {"all_pairs": {"history_of": ["SPY:GLD"]}},
        "config key `all_pairs.history_of`: 'SPY:GLD' names GLD, not in `series`",
    ),
    ({"model": {"pair": ["TLT", "SPY"]}}, "config key `model.pair`: ['TLT', 'SPY'] is not one of"),
    (
        {"start": "2016-01-04", "end": "2016-06-30", "model": {"horizon": 100}},
        "config key `model.horizon`: 100 business days ahead do not fit in the 129 business days from "
        "`start` to `end` with the 60-day window (at most 68",
    ),
    (
        {
            "start": "2016-01-04",
            "end": "2016-06-30",
            "model": {"enabled": False},
            "all_pairs": {"enabled": True, "window": 250},
        },
        "config key `all_pairs.window`: window 250 is longer than the 129 business days",
    ),
]


@pytest.mark.parametrize("change, message", CROSS_KEY, ids=[m.split(":")[0][12:] or m for _, m in CROSS_KEY])
def test_each_cross_key_check_is_one_line_naming_the_key(change, message):
    if "calendar" in change.get("series", [{}])[-1]:
        pytest.importorskip("pandas_market_calendars")
    assert message in error_of(with_changes(**change))


def test_an_unknown_calendar_is_a_short_line_with_the_close_names_and_how_to_list_all():
    pytest.importorskip("pandas_market_calendars")
    series = [*SHIPPED["series"], {"id": "T", "source": "csv", "kind": "price", "calendar": "NYSEE"}]
    message = error_of(with_changes(series=series))
    assert "did you mean NYSE" in message and "print(m.get_calendar_names())" in message
    assert "\n" not in message and len(message) < 400, message


def test_the_earliest_start_and_a_disabled_model_pass():
    resolve(with_changes(start="1900-01-02"), now=NOW)
    short = with_changes(start="2016-01-04", end="2016-06-30", model={"horizon": 100, "enabled": False})
    resolve(short, now=NOW)


# ---------------------------------------------------------------- the all-pairs memory plan


def plan_of(n_series: int, days: int = 16_000, **all_pairs) -> AllPairsPlan:
    settings = {"window": 60, "dtype": "float32", "dates": "auto", **all_pairs}
    specs = series(*[(f"X{k:04d}", "csv", "price") for k in range(n_series)])
    return AllPairsPlan(specs, "1962-01-02", "2025-12-31", rows=days, **settings)


def test_block_memory_is_the_documented_sum_and_falls_with_more_blocks():
    plan = plan_of(2)
    # one pair: 500 MB, 4 float64 per series and day, the pair's buffers, 6 int64 per pair
    window, rows = 60, 256 + 60
    per_pair = 2 * window * 8 + 12 * 8 + rows * 2 * 4 + rows * (8 + 8 + 8) + 64
    assert plan.block_mb(1) == int((500e6 + 32 * 16_000 * 2 + per_pair + 48) / 1e6)
    big = plan_of(5000)
    sizes = [big.block_mb(n) for n in (1, 10, 100, 1000)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_a_budget_plans_the_fewest_blocks_that_fit_with_a_note():
    plan = plan_of(5000)
    blocks = plan.blocks(1, 7000, enabled=True)
    assert plan.block_mb(blocks) <= 7000 < plan.block_mb(blocks - 1)
    assert plan.notes == [
        f"note: config key `all_pairs.mem_mb`: 7000 MB per block; {blocks} blocks of "
        f"{plan.block_mb(blocks)} MB planned"
    ]
    assert plan.blocks(blocks + 5, 7000, enabled=True) == blocks + 5  # more than needed: as asked


def test_a_budget_no_block_can_meet_is_one_line():
    plan = plan_of(5000)
    with pytest.raises(ConfigError) as raised:
        plan.blocks(1, 1000, enabled=True)
    assert str(raised.value) == (
        f"config key `all_pairs.mem_mb`: 1000 MB is below the {plan.block_mb(4999)} MB a block of one first "
        "series needs for 5000 series from 1962-01-02 to 2025-12-31; raise it, or shorten the range"
    )


def test_more_blocks_than_hold_pairs_are_capped_with_a_note_only_when_enabled():
    plan = plan_of(9)
    assert plan.blocks(4096, None, enabled=True) <= 8
    assert plan.notes and plan.notes[0].startswith(
        "note: config key `all_pairs.n_blocks`: 4096 blocks for 36"
    )
    quiet = plan_of(9)
    assert quiet.blocks(4096, 1000, enabled=False) <= 8 and quiet.notes == []  # no budget check when off


def test_resolve_writes_the_planned_blocks_back():
    config = with_changes(all_pairs={"enabled": True, "n_blocks": 4096})
    settings = resolve(config, now=NOW, clean_rows=16_000)
    assert settings.all_pairs.n_blocks == settings.config["all_pairs"]["n_blocks"] <= 8
    assert settings.notes and "4096 blocks for 36 pairs of 9 series" in settings.notes[0]


# ---------------------------------------------------------------- only what Snakemake installs


def test_resolving_imports_neither_pandas_nor_numpy(tmp_path):
    """The Snakefile resolves its config where only Snakemake is installed."""
    code = (
        "import sys, yaml\n"
        "from corrflow.config import resolve\n"
        f"path = {str(ROOT / 'config/config.yaml')!r}\n"
        "resolve(yaml.safe_load(open(path)), [path])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'numpy', 'numba'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_package_schema_is_the_one_the_workflow_reads():
    from corrflow.config import SCHEMA_PATH

    workflow_copy = ROOT / "workflow/schemas/config.schema.yaml"
    assert SCHEMA_PATH == ROOT / "src/corrflow/config.schema.yaml"
    assert Path(workflow_copy).read_bytes() == SCHEMA_PATH.read_bytes()


def test_a_relative_snapshot_missing_here_is_the_workflows_own(tmp_path, monkeypatch):
    """A module deployment runs in a folder without data/sample: the bundled snapshot beside
    the workflow is used; a snapshot that exists here, or an absolute one, is kept."""
    from corrflow.config.settings import resolve_snapshot

    root = tmp_path / "corrflow"
    (root / "data/sample").mkdir(parents=True)
    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    assert resolve_snapshot("data/sample", str(root)) == str(root / "data/sample")
    assert resolve_snapshot("data/sample", None) == "data/sample"
    assert resolve_snapshot("/elsewhere/sample", str(root)) == "/elsewhere/sample"
    assert resolve_snapshot("no/such", str(root)) == "no/such"
    (here / "data/sample").mkdir(parents=True)
    assert resolve_snapshot("data/sample", str(root)) == "data/sample"


def test_fetch_only_settings_are_invisible_to_the_params_trigger_and_reach_the_step_plain():
    """Issue 28.5: Snakemake records a param as the repr of a built-in value and skips any
    other; an untracked value is skipped at the top level, has one repr inside a dict, and
    pickles (as the rule script receives it) as the plain value."""
    import pickle

    from snakemake.persistence import UNREPRESENTABLE, PersistenceBase

    from corrflow.config import FETCH_ONLY_NETWORK_KEYS, Untracked, untracked, untracked_keys

    def recorded(value):
        return PersistenceBase._serialize_param_builtin(None, value)

    assert recorded(untracked(True)) is UNREPRESENTABLE and recorded(True) == "True"
    network = schema_defaults()["network"]
    assert set(FETCH_ONLY_NETWORK_KEYS) < set(network)
    slow, fast = (
        untracked_keys({**network, "timeout_s": s, "retries": r}, FETCH_ONLY_NETWORK_KEYS)
        for s, r in [(60, 9), (1, 0)]
    )
    assert (
        recorded(slow)
        == recorded(fast)
        != recorded(untracked_keys({**network, "max_revision_share": 0.2}, FETCH_ONLY_NETWORK_KEYS))
    )
    reordered = dict(reversed(list({**network, "timeout_s": 1, "retries": 0}.items())))
    assert recorded(untracked_keys(reordered, FETCH_ONLY_NETWORK_KEYS)) == recorded(fast)
    assert pickle.loads(pickle.dumps(untracked(True), protocol=4)) is True
    plain = pickle.loads(pickle.dumps(slow, protocol=4))
    assert plain == {**network, "timeout_s": 60, "retries": 9}
    assert not any(isinstance(value, Untracked) for value in plain.values())


@pytest.mark.parametrize(
    "override, message",
    [
        (["unknown_key=1"], "unknown_key"),
        (["end=1960-01-01"], "config key `end`"),
        (["end=2017-02-30"], "config key `end`: '2017-02-30' is not a calendar date"),
        (["correlation={'pairs': [['SPY', 'NOPE']]}"], "NOPE"),
        (["offline=maybe"], "offline"),
        (["correlation={'windows': ['sixty']}"], "windows"),
        (
            ["start=2016-01-04", "end=2016-06-30", "correlation={'windows': [300]}"],
            "config key `correlation.windows`: window 300 is longer than the 129 business days",
        ),
        (["stress={'vix': 'NOPE'}"], "config key `stress.vix`: 'NOPE' is not in `series`"),
        (["features={'cash_rate': 'SPY'}"], "config key `features.cash_rate`: 'SPY' must be a yield series"),
        (["all_pairs={'n_blocks': 0}"], "n_blocks"),
        (["regimes={'unusual_level': -1}"], "unusual_level"),
    ],
)
def test_a_bad_command_line_override_is_one_line(override, message):
    """What `snakemake --config ...` hands the Snakefile (Snakemake's own parser and merge
    over config/config.yaml) stops resolution with one line naming the key; three of
    these through a real Snakemake run: tests/test_workflow_e2e.py."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    config = copy.deepcopy(SHIPPED)
    update_config(config, parse_config(override))
    assert message in error_of(config, config_files=[str(ROOT / "config/config.yaml")])
