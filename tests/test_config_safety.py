"""Issue 22.3: config safety. A YAML alias bomb, a key given twice, numbers the data cannot
hold and more blocks than pairs are stopped (or capped, with a note) before any job, each
with one line naming the cause; URL parameters are escaped whatever a series' symbol holds."""

import re
import urllib.parse

import pytest

from conftest import snakemake
from test_ingest import FAKE_KEY, ROWS, FredServer, fred_csv, fred_xml, ingest_2020, settings

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + BOMB
BOMB += "report: {heatmap_exclude: *i}\n"  # ten lines: 9 ** 9 strings once expanded


def dry_run_with(workflow_copy, text: str, *config: str):
    (workflow_copy / "config" / "extra.yaml").write_text(text)
    extra = ["--config", *config] if config else []
    return snakemake(
        workflow_copy, "-n", "--configfile", "config/config.yaml", "config/extra.yaml", *extra, check=False
    )


def one_clear_line(result, message: str) -> None:
    """Stopped before any job, the message on one line, no Python traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert [line for line in output.splitlines() if message in line], output[-2000:]
    assert "Traceback" not in output and "Job stats" not in output, output[-2000:]
    # Snakemake names the line of common.smk that stopped; no frames of the functions below it
    assert len(re.findall(r'^  File "', output, re.M)) <= 1, output[-2000:]


@pytest.mark.parametrize(
    "text, message",
    [
        (BOMB, "config: YAML anchors and aliases (&name / *name) expand it to "),
        (
            "offline: true\nmodel:\n  enabled: true\noffline: false\n",
            "config/extra.yaml, line 4: key `offline` given twice in one mapping (first on line 1)",
        ),
        ("model:\n  horizon: 1.0e+8\n", "config key `model.horizon`: 100000000 is greater than the maximum"),
    ],
    ids=["alias-bomb", "duplicate-top", "horizon-1e8"],
)
def test_a_hostile_or_mistaken_config_file_is_stopped_with_one_line(workflow_copy, text, message):
    """One real run per kind of problem; every case of each kind: tests/test_config.py."""
    one_clear_line(dry_run_with(workflow_copy, text), message)


def test_a_merge_key_override_is_not_a_duplicate(workflow_copy):
    text = "correlation:\n  <<: {windows: [60], spearman: false}\n  spearman: true\n"
    result = dry_run_with(workflow_copy, text)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_horizon_the_range_cannot_hold_is_stopped_before_any_job(workflow_copy):
    result = snakemake(
        workflow_copy,
        "-n",
        "--config",
        "start=2016-01-04",
        "end=2016-06-30",
        "model={'horizon': 100}",
        check=False,
    )
    one_clear_line(
        result,
        "config key `model.horizon`: 100 business days ahead do not fit in the 129 business days from "
        "`start` to `end` with the 60-day window (at most 68",
    )


def test_more_blocks_than_pairs_are_capped_with_a_note(workflow_copy):
    """Issue 22: `n_blocks: 4096` scheduled 4,096 jobs for 36 pairs."""
    result = snakemake(
        workflow_copy, "-n", "--config", "offline=true", "all_pairs={'enabled': True, 'n_blocks': 4096}"
    )
    blocks = int(re.search(r"^all_pairs_block\s+(\d+)$", result.stdout, re.M).group(1))
    assert 1 <= blocks <= 8  # 9 series: the pairs split by their first series, at most 8 ways
    assert (
        f"note: config key `all_pairs.n_blocks`: 4096 blocks for 36 pairs of 9 series; {blocks} planned"
        in result.stdout + result.stderr
    )


@pytest.mark.parametrize("key", [None, FAKE_KEY], ids=["csv", "api"])
def test_a_hostile_symbol_stays_one_url_parameter(tmp_path, key, caplog):
    """Issue 22: the keyed URL took `symbol` unescaped, so "DGS3MO&api_key=x" sent a second key."""
    from test_ingest import fake_policy

    symbol = "DGS3MO&api_key=x"
    specs = [{"id": "DGS3MO", "source": "fred", "symbol": symbol, "kind": "yield", "maturity": 0.25}]
    answer = fred_xml(ROWS[:4]) if key else fred_csv(ROWS[:4], symbol)
    with FredServer([], answer) as server:
        network, paths = settings(tmp_path, server.base)
        policy, _ = fake_policy()
        from corrflow.data import ingest

        outcome = ingest_2020("fred", specs, network, paths, policy, api_key=key, throttle=ingest.Throttle(0))
    assert outcome["DGS3MO"].status == "fresh"
    query = urllib.parse.parse_qs(server.requests[0].query)
    if key:
        assert query["series_id"] == [symbol] and query["api_key"] == [FAKE_KEY]
    else:
        assert query["id"] == [symbol] and "api_key" not in query
    assert FAKE_KEY not in caplog.text
