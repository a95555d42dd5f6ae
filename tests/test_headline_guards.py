"""Issue 22.4: a value DQ flags as an outlier does not drive the stress flags or the
headline without saying so. One price typed x100 (or 1e308) between two ordinary closes
is a likely data error: left out of the stress rules and named in the headline; a last
value that fell 99 % cannot be confirmed by a later day: it stays in, and the headline
says the flags may rest on it. Real crashes and whipsaws (1929, 1987, 2008, March 2020)
are DQ outliers too, and stay in untouched."""

import numpy as np
import pandas as pd
import pytest

from conftest import snakemake
from corrflow.analytics.regimes.stress import likely_data_errors, stress_episodes
from corrflow.config.sections import Stress
from corrflow.io import schema_defaults
from corrflow.present.summary import current_state
from test_no_traceback import local_universe, snapshot_series

OUTLIER_Z = schema_defaults()["dq"]["outlier_z"]
FAT_FINGER_DAY = "2019-10-08"


def stress_settings(equity: str = "SPY") -> Stress:
    return Stress.from_dict({**schema_defaults()["stress"], "equity": equity, "bond": None, "vix": None})


def test_a_value_typed_x100_or_1e308_between_ordinary_closes_is_a_likely_data_error():
    spy = snapshot_series("SPY")
    typed = spy.copy()
    typed.loc[FAT_FINGER_DAY] *= 100
    typed.loc["2017-03-01"] = 1e308
    errors = likely_data_errors(typed, OUTLIER_Z)
    assert [(e["date"], e["confirmed"], e["likely_error"]) for e in errors] == [
        ("2017-03-01", True, True),
        (FAT_FINGER_DAY, True, True),
    ]
    assert errors[1]["value"] == pytest.approx(100 * spy.loc[FAT_FINGER_DAY])
    assert errors[1]["previous"] == spy.shift(1).loc[FAT_FINGER_DAY] and errors[1]["z"] > OUTLIER_Z


def test_real_crashes_and_whipsaws_are_not_data_errors():
    """Black Monday, 1929, 2008 and March 2020's -9.6 % / +8.5 % are DQ outliers, not typos."""
    for series_id in ("SPY", "SP500", "FF_MKT", "VIXCLS", "DCOILWTICO"):
        history = snapshot_series(series_id, "1900-01-01", "2030-01-01").rename(series_id)
        assert likely_data_errors(history, OUTLIER_Z) == [], series_id


def test_a_last_value_down_99_percent_is_kept_and_named_unconfirmed():
    spy = snapshot_series("SPY").rename("SPY")
    spy.iloc[-1] /= 100
    (error,) = likely_data_errors(spy, OUTLIER_Z)
    assert error["date"] == "2020-12-31" and not error["confirmed"] and error["likely_error"]
    assert error["return"] == pytest.approx(spy.iloc[-1] / spy.iloc[-2] - 1) and error["next"] is None


@pytest.mark.parametrize("typed_value", [100.0, 1e308])
def test_a_likely_data_error_drives_no_stress_flag(typed_value):
    """x100 gave "drawdown SPY -99% from peak" to the end of the data; 1e308 "-100%"."""
    spy = snapshot_series("SPY")
    levels = pd.DataFrame({"SPY": spy})
    metadata = {"series": {"SPY": {"kind": "price"}}}
    clean_table, clean_tags = stress_episodes(levels, metadata, stress_settings(), OUTLIER_Z)
    typed = levels.copy()
    typed.loc[FAT_FINGER_DAY, "SPY"] = spy.loc[FAT_FINGER_DAY] * typed_value if typed_value < 1e300 else 1e308
    notes: dict = {}
    table, tags = stress_episodes(typed, metadata, stress_settings(), OUTLIER_Z, notes)
    reasons = " ".join(tags["stress_reason"].dropna())
    assert "-99%" not in reasons and "-100%" not in reasons
    assert not tags.loc["2019-10-09":, "stress"].loc[:"2020-02-19"].any()  # no episode until Covid
    pd.testing.assert_frame_equal(table, clean_table)
    assert [(e["series"], e["date"], e["confirmed"]) for e in notes["data_errors"]] == [
        ("SPY", FAT_FINGER_DAY, True)
    ]


def test_the_headline_names_what_was_left_out_and_what_may_drive_it():
    regimes = pd.DataFrame(
        {"stress": [False, True], "stress_reason": [None, "drawdown SPY -99% from peak"]},
        index=pd.DatetimeIndex(["2021-02-23", "2021-02-24"]),
    )
    errors = [
        {
            "series": "SPY", "date": "2020-06-01", "value": 30500.0, "previous": 304.2, "next": 305.1,
            "return": 99.26, "z": 900.0, "confirmed": True, "likely_error": True,
        },
        {
            "series": "SPY", "date": "2021-02-24", "value": 3.9, "previous": 390.0, "next": None,
            "return": -0.99, "z": -800.0, "confirmed": False, "likely_error": True,
        },
    ]  # fmt: skip
    lines = current_state(regimes, {"data_errors": errors}, "2021-02-24")
    assert "- **Stress flags on 2021-02-24: drawdown SPY -99% from peak.**" in lines
    assert (
        "- Flagged as likely data errors and left out of the stress flags: SPY 30500 on 2020-06-01 (between "
        "304.2 and 305.1, DQ robust z +900)" in lines[-2]
    )
    assert lines[-1].startswith(
        "- **SPY -99% on 2021-02-24, flagged as a likely data error** (from 390 to 3.9"
    )
    assert "today's stress flags and Markov states may rest on it; check the file" in lines[-1]
    # before the as-of date the unconfirmed value is not yet in the data the headline speaks of
    assert not any(
        "SPY -99%" in line for line in current_state(regimes, {"data_errors": errors}, "2021-02-23")
    )


@pytest.mark.e2e
def test_one_fat_fingered_price_in_a_real_run_is_named_not_a_99_percent_drawdown(tmp_path):
    """A local SPY file with one close typed x100 in 2019 and its last close typed /100:
    the 2019 value is left out of the stress rules and named; the last one is kept and the
    headline says the flags may rest on it."""
    spy = snapshot_series("SPY")
    typed = spy.copy()
    typed.loc[FAT_FINGER_DAY] *= 100
    typed.iloc[-1] /= 100
    series = [
        {"id": "SPY", "source": "csv", "kind": "price"},
        {"id": "TLT", "source": "csv", "kind": "price"},
    ]
    workdir = local_universe(
        tmp_path, {"SPY": typed, "TLT": snapshot_series("TLT")}, series, [["SPY", "TLT"]]
    )
    snakemake(workdir, "--cores", "2")
    regimes = pd.read_parquet(workdir / "data/processed/regimes.parquet")
    between = regimes.loc["2019-10-09":"2020-02-19", "stress_reason"].dropna()
    assert not between.str.contains("drawdown").any(), between.head()  # the x100 close set no peak
    report = (workdir / "docs/report.md").read_text()
    glance = report.split("## Sources")[0]
    before, after = spy.shift(1).loc[FAT_FINGER_DAY], spy.shift(-1).loc[FAT_FINGER_DAY]
    assert (
        "- Flagged as likely data errors and left out of the stress flags: "
        f"SPY {typed.loc[FAT_FINGER_DAY]:.6g} on {FAT_FINGER_DAY} (between {before:.6g} and {after:.6g}, "
        "DQ robust z +" in glance
    )
    assert "- **SPY -99% on 2020-12-31, flagged as a likely data error** (from " in glance
    # the flag on the last day is still shown (a real -99 % would matter), with the caveat after it
    assert "**Stress flags on 2020-12-31: drawdown SPY -99% from peak" in glance
    dq = (workdir / "docs/dq_report.md").read_text()
    assert FAT_FINGER_DAY in dq and "2020-12-31" in dq  # the same values DQ lists as outliers
    assert not np.isnan(pd.read_parquet(workdir / "data/processed/clean.parquet").loc[FAT_FINGER_DAY, "SPY"])


def test_a_markov_probability_says_when_todays_value_fits_neither_state():
    """P(high) = 1.00 where today's correlation lies 3.5 state-sds above the high state:
    the line says neither state describes today; a value inside a state gets no such words."""
    from corrflow.present.summary import current_state

    index = pd.bdate_range("2026-01-01", periods=5)
    regimes = pd.DataFrame({"mkv:A:B:60:p_realtime:low": 0.0, "mkv:A:B:60:p_realtime:high": 1.0}, index=index)
    fit = {
        "series": "mkv:A:B:60",
        "well_separated": True,
        "states": {"low": {"mean": -0.3, "variance": 0.01}, "high": {"mean": 0.2, "variance": 0.01}},
    }
    meta = {"markov": [fit]}
    as_of = str(index[-1].date())
    far = pd.DataFrame({"A:B:60": [0.2, 0.2, 0.2, 0.2, 0.55]}, index=index)
    line = next(x for x in current_state(regimes, meta, as_of, far) if "Markov" in x)
    assert "P(high) real-time 1.00" in line
    assert "today's value +0.55 lies 3.5 state standard deviations or more from both states" in line
    near = far.assign(**{"A:B:60": 0.25})
    line = next(x for x in current_state(regimes, meta, as_of, near) if "Markov" in x)
    assert "neither describes today" not in line


def test_a_markov_probability_that_jumped_in_a_day_says_so_and_the_last_days_hindsight_is_marked():
    """P(turbulent) 0.01 on one day and 0.92 the next, the data's last: the line gives the
    day before and says hindsight has no later day there; a steady probability gets neither."""
    from corrflow.present.summary import current_state

    index = pd.bdate_range("2026-06-01", periods=5)
    realtime = [0.02, 0.01, 0.03, 0.01, 0.92]
    regimes = pd.DataFrame(
        {
            "mkv:ret:SPY:p_realtime:calm": [1 - p for p in realtime],
            "mkv:ret:SPY:p_realtime:turbulent": realtime,
            "mkv:ret:SPY:p_hindsight:calm": [0.9, 0.9, 0.9, 0.9, 0.08],
            "mkv:ret:SPY:p_hindsight:turbulent": [0.1, 0.1, 0.1, 0.1, 0.92],
        },
        index=index,
    )
    fit = {"series": "mkv:ret:SPY", "well_separated": True, "states": {"calm": {}, "turbulent": {}}}
    meta = {"markov": [fit]}
    line = next(x for x in current_state(regimes, meta, "2026-06-05") if "Markov" in x)
    assert "P(turbulent) real-time 0.92, hindsight 0.92" in line
    assert "it was 0.01 on 2026-06-04, the day before" in line
    assert "on the data's last day hindsight has no later day to use" in line
    line = next(x for x in current_state(regimes, meta, "2026-06-04") if "Markov" in x)
    assert "the day before" not in line and "last day" not in line


def test_the_headline_says_the_stress_flag_is_not_known_after_its_inputs_end():
    """A day after the stress rules' inputs end (stress NA): neither "No stress flag" nor a
    flag, but "not known", with the day the inputs end."""
    regimes = pd.DataFrame(
        {"stress": pd.array([False, None], dtype="boolean"), "stress_reason": [None, None]},
        index=pd.DatetimeIndex(["2026-06-05", "2026-06-08"]),
    )
    lines = current_state(regimes, {}, "2026-06-08")
    assert "- Stress flag not known on 2026-06-08: the stress rules' inputs end 2026-06-05." in lines
    assert not any("No stress flag" in line for line in lines)
    assert "- No stress flag on 2026-06-05." in current_state(regimes, {}, "2026-06-05")
