"""CleanPanel: clean.parquet read once, its metadata's answers (specs, closed days, max gap,
as-of) in one place, and the workflow's returns taken with them."""

import ast

import numpy as np
import pandas as pd
import pytest

from conftest import SRC
from corrflow.analytics.panel import CleanPanel
from corrflow.analytics.returns import pair_returns, series_returns
from corrflow.data.contracts import write_parquet
from corrflow.io import InputDataError


def weekdays(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2024-01-01", periods=n, name="date")


@pytest.fixture
def panel_file(tmp_path):
    """Two series on two calendars (B closed on day 10), A missing days 20-22: with
    ``max_gap_days: 2`` the return across that hole is missing."""
    index = weekdays(40)
    rng = np.random.default_rng(7)
    a = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 40))), index=index)
    b = pd.Series(4 + np.cumsum(rng.normal(0, 0.02, 40)), index=index)
    a.iloc[20:23] = np.nan
    b.iloc[10] = np.nan
    meta = {
        "series": {
            "A": {"kind": "price", "calendar": "XNYS"},
            "B": {"kind": "yield", "maturity": 10, "calendar": "SIFMA_US"},
        },
        "calendars": {"XNYS": [], "SIFMA_US": [str(index[10].date())]},
        "calendar": {"max_gap_days": 2},
        "as_of": "2024-02-23",
        "data_through": "2024-02-26",
    }
    path = tmp_path / "clean.parquet"
    write_parquet(pd.DataFrame({"A": a, "B": b}), path, meta)
    return path, meta


def test_the_panel_answers_from_the_metadata(panel_file):
    path, meta = panel_file
    panel = CleanPanel.read(path)
    assert list(panel.levels.columns) == ["A", "B"]
    assert panel.meta == meta
    assert panel.specs["B"]["maturity"] == 10
    assert panel.spec("NOT_THERE") == {"kind": "price"}
    assert panel.closed == {"A": [], "B": [meta["calendars"]["SIFMA_US"][0]]}
    assert panel.calendar_of == {"A": "XNYS", "B": "SIFMA_US"}
    assert panel.max_gap_days == 2
    assert (panel.as_of, panel.data_through) == ("2024-02-23", "2024-02-26")
    assert panel.as_of_date([["A", "B"]]) == "2024-02-23"
    assert CleanPanel.read(path, columns=["B"]).levels.columns.tolist() == ["B"]
    assert CleanPanel.read(path, columns=[]).levels.shape[1] == 0  # the metadata only


def test_returns_take_the_panels_closed_days_and_max_gap(panel_file):
    path, meta = panel_file
    panel = CleanPanel.read(path)
    levels, closed = panel.levels, {"A": [], "B": meta["calendars"]["SIFMA_US"]}
    expected = pair_returns(levels, meta["series"], "A", "B", closed, 2)
    pd.testing.assert_frame_equal(panel.pair_returns("A", "B"), expected)
    # the hole of 3 open days is longer than max_gap_days 2: no return across it
    assert np.isnan(panel.pair_returns("A", "B").loc[levels.index[23], "A"])
    without_gap_limit = pair_returns(levels, meta["series"], "A", "B", closed, None)
    assert np.isfinite(without_gap_limit.loc[levels.index[23], "A"])
    pd.testing.assert_series_equal(
        panel.series_returns("B"), series_returns(levels["B"], meta["series"]["B"], closed["B"], 2)
    )
    assert np.isnan(panel.series_returns("A").iloc[23])


def test_pair_days_leave_out_either_markets_closed_days(panel_file):
    path, _ = panel_file
    panel = CleanPanel.read(path)
    days = panel.pair_days("A", "B")
    assert len(days) == 39 and panel.levels.index[10] not in days
    assert len(panel.pair_days("A", "A")) == 40
    assert panel.open_mask("B").sum() == 39
    assert len(panel.pair_days("A", "B", panel.levels.index[:5])) == 5


def test_other_levels_keep_the_metadata(panel_file):
    path, _ = panel_file
    panel = CleanPanel.read(path)
    shorter = panel.with_levels(panel.levels.iloc[:15])
    assert len(shorter.levels) == 15 and shorter.max_gap_days == 2 and shorter.closed == panel.closed
    assert len(panel.levels) == 40  # the panel itself is unchanged (frozen)
    with pytest.raises(AttributeError):
        panel.levels = shorter.levels


def test_a_missing_file_is_one_clear_line(tmp_path):
    with pytest.raises(InputDataError, match="clean.parquet: file not found; build it first"):
        CleanPanel.read(tmp_path / "clean.parquet")


def test_no_module_reads_the_panels_metadata_by_hand():
    """The max gap, closed days and series specs of clean.parquet are read through
    CleanPanel: no module outside it digs them out of the metadata dict."""
    by_hand = []
    for path in sorted((SRC / "corrflow").rglob("*.py")):
        if path.name == "panel.py" or "config" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            # the key by name: only the data layer, which writes it (clean) or checks it (dq)
            if isinstance(node, ast.Constant) and node.value == "max_gap_days" and path.parent.name != "data":
                by_hand.append(f"{path.relative_to(SRC)}:{node.lineno} max_gap_days")
            if isinstance(node, ast.Name) and node.id in {"closed_by_series", "pair_days"}:
                if path.name != "contracts.py":
                    by_hand.append(f"{path.relative_to(SRC)}:{node.lineno} {node.id}")
    assert by_hand == []
