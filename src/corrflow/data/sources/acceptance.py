"""Is a download plausibly the series asked for? Checked on every live answer before it
may replace the cache; a refusal is a failed attempt (FetchError with a precise code).

The answer is held against every reference there is:

- the verified cache copy: every cached date is still there (else ``HistoryShrunk``);
- the bundled snapshot: the answer starts no later, ends no earlier and holds no fewer
  values within the snapshot's span (else ``HistoryShrunk``);
- values (sources that do not re-scale history, unlike Yahoo's adjusted closes): against
  the cache, or without one the snapshot, at most ``max_revision_share`` of the shared
  values may differ, none dated more than ``max_revision_age_days`` before the
  reference's last value; they are accepted as revisions and listed (date, old, new).
  More is ``WrongSeries`` (most values differ) or ``RevisionLimit``;
- the answer itself: finite and within the kind's bounds, no implausibly long run of one
  value, and a first date no later than the series' known start (``Implausible``,
  ``HistoryShrunk``).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from corrflow.data.http_client import FetchError

YIELD_BOUNDS_PCT = (-5.0, 30.0)
# A few non-positive prices are real (WTI settled at -36.98 on 2020-04-20) and are left
# to clean and DQ; more than this share means the answer is not a price series.
MAX_NON_POSITIVE_PRICE_SHARE = 0.01
# The longest run of one value in the bundled snapshot is 21 observations (DGS20, 1965);
# a quarter of a year of one value is a stuck feed or a placeholder, not a market.
MAX_CONSTANT_RUN = 63
# More than this share of the shared values differing is another series, not a revision.
WRONG_SERIES_SHARE = 0.5
# First published value of series whose history is known (FRED's and Yahoo's own pages;
# the snapshot's README table): an answer starting later was cut at its start.
KNOWN_FIRST_DATES = {
    ("fred", "DGS1MO"): "2001-07-31",
    ("fred", "DGS3MO"): "1981-09-01",
    ("fred", "DGS6MO"): "1981-09-01",
    ("fred", "DGS1"): "1962-01-02",
    ("fred", "DGS2"): "1976-06-01",
    ("fred", "DGS3"): "1962-01-02",
    ("fred", "DGS5"): "1962-01-02",
    ("fred", "DGS7"): "1969-07-01",
    ("fred", "DGS10"): "1962-01-02",
    ("fred", "DGS20"): "1962-01-02",
    ("fred", "DGS30"): "1977-02-15",
    ("fred", "VIXCLS"): "1990-01-02",
    ("fred", "DCOILWTICO"): "1986-01-02",
    ("yahoo", "SPY"): "1993-01-29",
    ("yahoo", "TLT"): "2002-07-30",
}
# a range may start on a weekend or a holiday: the first value may come a few days later
START_SLACK = pd.Timedelta(days=7)
CACHE_HINT = "if the source really revised or cut this history, delete the series' cache file to accept it"
SNAPSHOT_HINT = (
    "if the source really revised or cut this history, raise network.max_revision_share or "
    "network.max_revision_age_days, or point paths.snapshot at a newer snapshot"
)


@dataclass(frozen=True)
class RevisionLimits:
    """How far a download may differ from its reference (config: ``network``)."""

    max_share: float  # of the values the answer shares with the reference
    max_age_days: int  # calendar days before the reference's last value

    @classmethod
    def from_network(cls, network: dict) -> "RevisionLimits":
        return cls(float(network["max_revision_share"]), int(network["max_revision_age_days"]))


@dataclass
class Reference:
    """A copy the answer is held against: the verified cache or the bundled snapshot."""

    series: pd.Series
    name: str  # "the cached copy", "the bundled snapshot"
    hint: str


@dataclass
class Accepted:
    """What an accepted answer brings besides its values."""

    notes: list[str] = field(default_factory=list)
    revisions: list[dict] = field(default_factory=list)  # {"date", "old", "new"} per revised value


def refuse(code: str, message: str, retryable: bool) -> FetchError:
    return FetchError(f"{code}: {message}", code=code, retryable=retryable)


def check_values(series: pd.Series, kind: str, label: str) -> list[str]:
    """Finite, and within the kind's bounds; returns notes on values kept but unusual."""
    values = series.dropna()
    if values.empty:
        raise FetchError(
            f"EmptySeries: {label}: the answer has no values", code="EmptySeries", retryable=False
        )
    infinite = values[~np.isfinite(values.to_numpy())]
    if len(infinite):
        raise refuse(
            "NotFinite",
            f"{label}: {len(infinite)} infinite value(s), first {infinite.iloc[0]} on "
            f"{infinite.index[0].date()}",
            retryable=False,
        )
    if kind == "yield":
        low, high = YIELD_BOUNDS_PCT
        outside = values[(values < low) | (values > high)]
        if len(outside):
            raise refuse(
                "OutOfBounds",
                f"{label}: {len(outside)} yield(s) outside {low}..{high} %, first {outside.iloc[0]} on "
                f"{outside.index[0].date()}",
                retryable=False,
            )
    if kind in ("price", "fx"):
        non_positive = values[values <= 0]
        share = len(non_positive) / len(values)
        if len(non_positive) and (kind == "fx" or share > MAX_NON_POSITIVE_PRICE_SHARE):
            raise refuse(
                "OutOfBounds",
                f"{label}: {len(non_positive)} non-positive {kind} value(s) ({share:.1%}), first "
                f"{non_positive.iloc[0]} on {non_positive.index[0].date()}",
                retryable=False,
            )
        if len(non_positive):
            first = f"first {non_positive.iloc[0]} on {non_positive.index[0].date()}"
            return [f"{len(non_positive)} non-positive price(s) kept from the download, {first}"]
    return []


def longest_constant_run(values: pd.Series) -> tuple[int, pd.Timestamp | None, pd.Timestamp | None]:
    """Length, first and last date of the longest run of one value (NaN left out)."""
    values = values.dropna()
    if values.empty:
        return 0, None, None
    run_id = (values != values.shift()).cumsum()
    lengths = run_id.value_counts(sort=False)
    longest = lengths.idxmax()
    dates = values.index[(run_id == longest).to_numpy()]
    return int(lengths[longest]), dates[0], dates[-1]


def check_plausible(series: pd.Series, spec: dict, source: str, start: str, label: str) -> None:
    """The answer on its own: no long run of one value, no later start than the series' known one."""
    values = series.dropna()
    length, first, last = longest_constant_run(values)
    if length > MAX_CONSTANT_RUN:
        raise refuse(
            "Implausible",
            f"{label}: {length} identical values in a row ({values[first]} from {first.date()} to "
            f"{last.date()}); a live series does not stand still for more than {MAX_CONSTANT_RUN} "
            f"observations: a stuck feed or a placeholder",
            retryable=False,
        )
    known = KNOWN_FIRST_DATES.get((source, spec.get("symbol", spec["id"])))
    if known is not None:
        expected = max(pd.Timestamp(start), pd.Timestamp(known))
        if values.index[0] > expected + START_SLACK:
            raise refuse(
                "HistoryShrunk",
                f"{label}: the answer starts {values.index[0].date()}; the series is published from "
                f"{known} and was asked for from {start}",
                retryable=True,
            )


def check_covers_cache(series: pd.Series, cached: pd.Series, label: str) -> None:
    """A new download may extend the cached copy, never shrink it: every date the cache
    holds within the range is in the answer, and the last date does not move back."""
    lost = cached.index.difference(series.index)
    if len(lost):
        last_new = series.index[-1].date() if len(series) else None
        raise refuse(
            "HistoryShrunk",
            f"{label}: the answer has {len(series)} rows ending {last_new}, the cached copy "
            f"{len(cached)} ending "
            f"{cached.index[-1].date()}; {len(lost)} cached date(s) missing, first {lost[0].date()}; "
            f"{CACHE_HINT}",
            retryable=True,
        )


def check_covers_snapshot(series: pd.Series, snapshot: pd.Series, label: str) -> None:
    """The answer holds at least the snapshot's history within the range: it starts no
    later, ends no earlier and has no fewer values over the snapshot's span (the snapshot
    may come from another publisher of the series, so its dates are not compared one by one)."""
    ref, got = snapshot.dropna(), series.dropna()
    if ref.empty:
        return
    within = got.loc[ref.index[0] : ref.index[-1]]
    if got.index[-1] < ref.index[-1]:
        reason = f"it ends {got.index[-1].date()}, before the snapshot's {ref.index[-1].date()}"
    elif got.index[0] > ref.index[0]:
        reason = f"it starts {got.index[0].date()}, after the snapshot's {ref.index[0].date()}"
    elif len(within) < len(ref):
        reason = f"it has {len(within)} values where the snapshot has {len(ref)}"
    else:
        return
    raise refuse(
        "HistoryShrunk",
        f"{label}: the answer has {len(got)} values {got.index[0].date()}..{got.index[-1].date()}, the "
        f"bundled snapshot {len(ref)} values {ref.index[0].date()}..{ref.index[-1].date()} in the range: "
        f"{reason}; an answer shorter than the snapshot is not accepted",
        retryable=True,
    )


def number(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def check_revisions(
    series: pd.Series, reference: Reference, limits: RevisionLimits, label: str
) -> list[dict]:
    """Values that differ from the reference on shared dates (a value that became missing
    counts; one filled in does not): revisions within the limits, else a refusal."""
    ref = reference.series.dropna()
    shared = ref.index.intersection(series.index)
    if ref.empty or not len(shared):
        return []
    old, new = ref[shared].to_numpy(), series[shared].to_numpy()
    differ = np.isnan(new) | ~np.isclose(new, old, rtol=1e-6, atol=1e-9, equal_nan=False)
    count = int(differ.sum())
    if not count:
        return []
    dates = shared[differ]
    share = count / len(shared)

    def shown(day) -> str:
        return f"{day.date()}: {series[day]} vs {ref[day]}"

    said = f"{count} of {len(shared)} values differ from {reference.name} (first {shown(dates[0])})"
    if share > WRONG_SERIES_SHARE:
        raise refuse(
            "WrongSeries",
            f"{label}: {said}; the answer looks like another series; {reference.hint}",
            retryable=False,
        )
    if share > limits.max_share:
        raise refuse(
            "RevisionLimit",
            f"{label}: {said}, {share:.1%} of the shared values where a source may revise at most "
            f"{limits.max_share:.1%} (network.max_revision_share); newest {shown(dates[-1])}; "
            f"{reference.hint}",
            retryable=False,
        )
    oldest_allowed = ref.index[-1] - pd.Timedelta(days=limits.max_age_days)
    too_old = dates[dates < oldest_allowed]
    if len(too_old):
        raise refuse(
            "RevisionLimit",
            f"{label}: {said}; {len(too_old)} of them dated more than {limits.max_age_days} days before "
            f"{reference.name}'s last value ({ref.index[-1].date()}; network.max_revision_age_days), "
            f"first {shown(too_old[0])}; {reference.hint}",
            retryable=False,
        )
    return [
        {"date": day.strftime("%Y-%m-%d"), "old": number(ref[day]), "new": number(series[day])}
        for day in dates
    ]


def accept_download(
    series: pd.Series,
    spec: dict,
    source: str,
    start: str,
    end: str,
    label: str,
    limits: RevisionLimits,
    cached: pd.Series | None = None,
    snapshot: pd.Series | None = None,
    compare_values: bool = True,
) -> Accepted:
    """Raise FetchError unless ``series`` is plausibly ``spec``'s series; returns the notes
    and the revisions accepted. ``cached`` and ``snapshot`` are the references (None
    where there is none); ``compare_values`` is False for sources that re-scale history."""
    notes = check_values(series, spec["kind"], label)
    window = slice(pd.Timestamp(start), pd.Timestamp(end))
    cached = cached.loc[window] if cached is not None else None
    snapshot = snapshot.loc[window] if snapshot is not None else None
    references = []
    if cached is not None and cached.notna().any():
        check_covers_cache(series, cached, label)
        references.append(Reference(cached, "the cached copy", CACHE_HINT))
    if snapshot is not None and snapshot.notna().any():
        check_covers_snapshot(series, snapshot, label)
        references.append(Reference(snapshot, "the bundled snapshot", SNAPSHOT_HINT))
    revisions = []
    if compare_values and references:
        # the cache holds revisions accepted before: the snapshot judges values only without one
        reference = references[0]
        revisions = check_revisions(series, reference, limits, label)
        if revisions:
            notes.append(
                f"{len(revisions)} value(s) revised against {reference.name} accepted (at most "
                f"{limits.max_share:.1%} of shared values, none more than {limits.max_age_days} days "
                f"old); listed under revisions"
            )
    check_plausible(series, spec, source, start, label)
    return Accepted(notes, revisions)
