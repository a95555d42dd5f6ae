"""Stress episodes: rules an analyst can state in a sentence, merged into one table.

Each rule gives intervals (start, end) with a reason:

The equity is the configured one, extended back by the universe's longest equity
history (``history_equity``; by default the price series with the earliest data whose
returns correlate at least ``HISTORY_MIN_CORR`` with the equity's, e.g. FF_MKT from 1926
before SPY from 1993): for the drawdown and volatility rules the history's levels,
rescaled to meet the equity's first close, stand in before the equity's first day, and
each reason names the series of its day. The joint-fall rule uses the equity's own days.

- drawdown: an episode starts on the day the equity closes at least ``drawdown_pct`` %
  below its running peak (restarted at the end of the previous drawdown episode)
  having fallen at least ``fall_pct`` % from its highest close of the last
  ``fall_days`` observations (a fall, not a slow grind); it ends at the trough,
  the lowest close before the equity wins back ``recovery_share`` of the loss from that
  peak (so the end is known only once the recovery comes: hindsight). An episode still
  unrecovered at the end of the data ends on the last day.
- volatility: VIX at or above ``vix_level``; where the VIX series has no data (before
  its first or after its last value, or no VIX in the universe) the equity's realised
  volatility over ``realised_vol_days`` observations (annualised, percent) at or above
  ``realised_vol_level`` stands in, and the reason says so.
- joint fall: the equity and the bond both down at least ``joint_fall_pct`` % over
  ``joint_fall_days`` days of the pair (``_returns.pair_returns``).
- named: the configured episodes (hindsight labels).

Intervals of all rules that overlap or lie at most ``merge_gap_days`` weekdays apart
form one episode; an episode of fewer than ``BLIP_WEEKDAYS`` weekdays (a one-day VIX
print, a one-day drawdown) joins the nearest episode at most ``BLIP_REACH_WEEKDAYS``
weekdays away (``merge_blips``). An episode longer than a year says why in its reason.

Likely data errors (``likely_data_errors``) drive no rule: a value DQ's outlier rule (robust z
of the daily log return) flags on the way in and on the way out, the days around it
agreeing, is one value out of line (a price typed x100, 1e308), not a market move; it is
left out of the stress rules and recorded (``stress_episodes``' ``notes``), and the headline
names it. A last value flagged on the way in cannot be confirmed yet: it stays in, recorded
as unconfirmed, and the headline says the flags may rest on it.

Per episode and pair (``episode_correlations``): the correlation before (the pair's last
``before_days`` days before the start that lie in no stress episode: a calm baseline,
never an earlier crisis), during, and Forbes-Rigobon adjusted, each with its number of
days and a Fisher-z interval; an episode with fewer than ``min_days_for_inference`` days
of the pair is marked too short for inference.
"""

import numpy as np
import pandas as pd

from corrflow.analytics.panel import CleanPanel
from corrflow.analytics.returns import TRADING_DAYS
from corrflow.config.sections import Stress
from corrflow.data.robust import robust_centre_scale

YEAR_WEEKDAYS = 261
HISTORY_MIN_CORR = 0.9  # daily-return correlation that makes a price series the same equity market
HISTORY_MIN_DAYS = 250  # joint days needed to judge that correlation
FR_CONFIDENCE = 0.95  # level of the Fisher-z intervals beside the episode correlations
FR_ASSUMPTIONS = (
    "Forbes-Rigobon takes out of the during-episode correlation the rise of the first series' "
    "variance over its calm baseline; it assumes that series is the only source of the shock "
    "(no common factor left out, no feedback from the second), and its interval treats the "
    "variance ratio as known (Fisher z on the days of the episode)."
)


class Interval(dict):
    """start, end (Timestamps), rule, reason, long_reason; ``daily`` maps day -> short text;
    ``severity`` (the higher the more extreme: a peak, a loss's depth) picks which stretch
    speaks for an episode with several stretches of the rule; a joint fall instead keeps
    ``worst`` (each leg's worst move) and ``say`` (the reason for given worst moves)."""


def weekdays_between(start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Weekdays from start to end, both included."""
    return int(np.busday_count(start.date(), (end + pd.Timedelta(days=1)).date()))


def series_of_day(name: str, history: tuple[str, pd.Timestamp] | None):
    """Which series a day's value comes from: ``history`` is (history id, the equity's first
    day), the history standing in before it; without one, always ``name``."""
    if history is None:
        return lambda day: name
    history_name, splice = history
    return lambda day: history_name if day < splice else name


def drawdown_intervals(
    levels: pd.Series,
    drawdown_pct: float,
    fall_pct: float,
    fall_days: int,
    recovery_share: float,
    history: tuple[str, pd.Timestamp] | None = None,
) -> list[Interval]:
    """Drawdown episodes of one equity (module doc); ``levels`` may hold NaN (not trading).
    ``history``: (series id, first day of ``levels.name``) when another series' levels
    stand in before that day; each episode names the series of its onset."""
    prices = levels.dropna()
    values, dates = prices.to_numpy(), prices.index
    recent_high = prices.rolling(fall_days, min_periods=1).max().to_numpy()
    series_on = series_of_day(levels.name, history)
    out: list[Interval] = []
    t, n = 0, len(values)
    top, peak_at = (values[0], 0) if n else (np.nan, 0)
    while t < n:
        if values[t] >= top:
            top, peak_at = values[t], t
        depth, fall = values[t] / top - 1.0, values[t] / recent_high[t] - 1.0
        if not (depth <= -drawdown_pct / 100.0 and fall <= -fall_pct / 100.0):
            t += 1
            continue
        onset, peak_day = t, dates[peak_at]
        name = series_on(dates[onset])
        trough = t
        u = t + 1
        while u < n and values[u] < values[trough] + recovery_share * (top - values[trough]):
            if values[u] < values[trough]:
                trough = u
            u += 1
        recovered = u < n
        loss = values[trough] / top - 1.0
        end_text = (
            f"trough {dates[trough].date()} ({loss:.0%})"
            if recovered
            else "not recovered by the end of the data"
        )
        interval = Interval(
            start=dates[onset],
            end=dates[trough] if recovered else dates[-1],
            rule="drawdown",
            reason=(
                f"drawdown: {name} {-depth:.0%} below its {peak_day.date()} peak after falling {-fall:.0%} "
                f"within {fall_days} days, to its {end_text}"
            ),
            long_reason=(
                f"{name} kept falling without winning back {recovery_share:.0%} of its loss from the "
                f"{peak_day.date()} peak (a bear market, onset to trough)"
            ),
        )
        interval["severity"] = -loss
        span = slice(onset, (trough if recovered else n - 1) + 1)
        interval["daily"] = {
            d: f"drawdown {name} {v / top - 1.0:.0%} from peak"
            for d, v in zip(dates[span], values[span], strict=True)
        }
        out.append(interval)
        if u < n:  # the peak restarts at the recovery: the next episode is a new fall
            top, peak_at = values[u], u
        t = u + 1
    return out


def runs(flags: pd.Series, merge_gap_days: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(first, last) day of each run of True days; runs at most ``merge_gap_days`` weekdays apart merge."""
    days = flags.index[flags.to_numpy(dtype=bool)]
    if not len(days):
        return []
    out = [[days[0], days[0]]]
    for day in days[1:]:
        if weekdays_between(out[-1][1], day) - 2 <= merge_gap_days:
            out[-1][1] = day
        else:
            out.append([day, day])
    return [(a, b) for a, b in out]


def realised_volatility(returns: pd.Series, days: int) -> pd.Series:
    """Annualised realised volatility in percent over ``days`` observations (own days only)."""
    observed = returns.dropna()
    return (100.0 * np.sqrt(TRADING_DAYS) * observed.rolling(days, min_periods=days).std()).reindex(
        returns.index
    )


def volatility_intervals(
    vix: pd.Series | None,
    equity_returns: pd.Series,
    vix_level: float,
    realised_days: int,
    realised_level: float,
    merge_gap_days: int,
    history: tuple[str, pd.Timestamp] | None = None,
) -> list[Interval]:
    """VIX at or above its level; the equity's realised volatility where VIX has no data.
    ``history`` as in ``drawdown_intervals``: the stretch names the series of its first day."""
    series_on = series_of_day(equity_returns.name, history)
    index = equity_returns.index
    realised = realised_volatility(equity_returns, realised_days)
    if vix is not None and vix.notna().any():
        first, last = vix.first_valid_index(), vix.last_valid_index()
        covered = (index >= first) & (index <= last)
        no_vix = f"VIX ({vix.name}) has data only {first.date()}..{last.date()}"
    else:
        covered = np.zeros(len(index), dtype=bool)
        no_vix = "no VIX series in the universe" if vix is None else f"VIX ({vix.name}) has no data"
    vix_values = vix.reindex(index) if vix is not None else pd.Series(np.nan, index=index)
    by_vix = pd.Series(covered & (vix_values >= vix_level).to_numpy(), index=index)
    by_realised = pd.Series(~covered & (realised >= realised_level).to_numpy(), index=index)
    out = []
    for start, end in runs(by_vix, merge_gap_days):
        span = vix_values.loc[start:end]
        interval = Interval(
            start=start,
            end=end,
            rule="VIX",
            reason=(
                f"VIX: {vix.name} at or above {vix_level:g} (peak {span.max():.1f} on {span.idxmax().date()})"
            ),
            long_reason=(
                f"{vix.name} stayed at or above {vix_level:g} with breaks of at most {merge_gap_days} days"
            ),
        )
        interval["severity"] = span.max()
        interval["daily"] = {d: f"VIX {v:.1f}" for d, v in span[span >= vix_level].items()}
        out.append(interval)
    for start, end in runs(by_realised, merge_gap_days):
        span = realised.loc[start:end]
        name = series_on(start)
        interval = Interval(
            start=start,
            end=end,
            rule="realised volatility",
            reason=(
                f"realised volatility: {name} {realised_days}-day annualised at or above {realised_level:g}% "
                f"(peak {span.max():.0f}% on {span.idxmax().date()}), standing in for VIX: {no_vix}"
            ),
            long_reason=(
                f"{name}'s realised volatility stayed high with breaks of at most {merge_gap_days} days"
            ),
        )
        interval["severity"] = span.max()
        interval["daily"] = {
            d: f"realised vol {name} {v:.0f}% (VIX stand-in)" for d, v in span[span >= realised_level].items()
        }
        out.append(interval)
    return out


def joint_fall_intervals(
    pair: pd.DataFrame, days: int, pct: float, merge_gap_days: int, names: dict | None = None
) -> list[Interval]:
    """Both legs of ``pair`` (log returns on the pair's days) down ``pct`` % over ``days`` days;
    ``names``: how the text names a leg (a yield's leg is its bond's price, not the yield)."""
    if pair.empty:
        return []
    equity, bond = pair.columns
    names = {equity: equity, bond: bond, **(names or {})}
    returns = pair.dropna()
    moves = np.expm1(returns.rolling(days, min_periods=days).sum())
    hit = (moves[equity] <= -pct / 100.0) & (moves[bond] <= -pct / 100.0)
    # a hit on day t is a fall over the window ending on t: the episode covers that window
    window_start = pd.Series(
        returns.index[np.maximum(np.arange(len(returns)) - days + 1, 0)], index=returns.index
    )

    def say(worst_equity: float, worst_bond: float) -> str:
        return (
            f"joint fall: {names[equity]} and {names[bond]} both down {pct:g}% or more over {days} days "
            f"(worst {worst_equity:+.1%} and {worst_bond:+.1%})"
        )

    out = []
    for start, end in runs(hit, merge_gap_days):
        span = moves.loc[start:end]
        worst = (span[equity].min(), span[bond].min())
        interval = Interval(
            start=window_start[start],
            end=end,
            rule="joint fall",
            reason=say(*worst),
            worst=worst,
            say=say,
            long_reason=(
                f"{names[equity]} and {names[bond]} kept falling together with breaks of at most "
                f"{merge_gap_days} days"
            ),
        )
        interval["daily"] = {
            d: f"joint fall {names[equity]} {row[equity]:+.1%}, {names[bond]} {row[bond]:+.1%} in {days}d"
            for d, row in span[hit.loc[start:end]].iterrows()
        }
        out.append(interval)
    return out


def named_intervals(episodes: list[dict], first: pd.Timestamp, last: pd.Timestamp) -> list[Interval]:
    """The configured episodes that overlap the data, clipped to it."""
    out = []
    for episode in episodes:
        start, end = max(pd.Timestamp(episode["start"]), first), min(pd.Timestamp(episode["end"]), last)
        if start > end:
            continue
        interval = Interval(
            start=start,
            end=end,
            rule="named",
            name=episode["name"],
            reason=f"named episode: {episode['name']} ({episode['start']}..{episode['end']})",
            long_reason=f"the named episode {episode['name']} is configured that long",
        )
        interval["daily"] = {d: f"named: {episode['name']}" for d in pd.bdate_range(start, end)}
        out.append(interval)
    return out


def merge_intervals(intervals: list[Interval], merge_gap_days: int) -> list[list[Interval]]:
    """Groups of intervals that overlap or lie at most ``merge_gap_days`` weekdays apart."""
    groups: list[list[Interval]] = []
    end = None
    for interval in sorted(intervals, key=lambda i: (i["start"], i["end"], i["rule"])):
        if groups and weekdays_between(end, interval["start"]) - 2 <= merge_gap_days:
            groups[-1].append(interval)
            end = max(end, interval["end"])
        else:
            groups.append([interval])
            end = interval["end"]
    return groups


BLIP_WEEKDAYS = 5  # an episode this short (a one-day VIX print, a one-day drawdown) is a blip ...
BLIP_REACH_WEEKDAYS = 21  # ... merged into the nearest episode at most a month of weekdays away


def merge_blips(groups: list[list[Interval]]) -> list[list[Interval]]:
    """Each blip (a group spanning fewer than ``BLIP_WEEKDAYS`` weekdays) merged into the
    nearest other group at most ``BLIP_REACH_WEEKDAYS`` weekdays away (the stress it belongs
    to, as one episode); a blip with nothing that near stays an episode of its own."""

    def span(group):
        return min(i["start"] for i in group), max(i["end"] for i in group)

    groups = [list(g) for g in groups]
    changed = True
    while changed:
        changed = False
        for k, group in enumerate(groups):
            start, end = span(group)
            if weekdays_between(start, end) >= BLIP_WEEKDAYS:
                continue
            near = []
            for j in (k - 1, k + 1):
                if 0 <= j < len(groups):
                    other_start, other_end = span(groups[j])
                    apart = (
                        weekdays_between(other_end, start) if j < k else weekdays_between(end, other_start)
                    ) - 2
                    if apart <= BLIP_REACH_WEEKDAYS:
                        near.append((apart, j))
            if near:
                _, j = min(near)
                groups[j] = sorted(groups[j] + group, key=lambda i: (i["start"], i["end"], i["rule"]))
                del groups[k]
                changed = True
                break
    return groups


def stretches_reason(parts: list[Interval]) -> str:
    """One rule's words for an episode: with several stretches, those of its most extreme
    one (the highest peak, the deepest loss; a joint fall's worst move of each leg over all
    of them) and how many there were."""
    if len(parts) == 1:
        return parts[0]["reason"]
    if "say" in parts[0]:
        worst = [min(p["worst"][leg] for p in parts) for leg in (0, 1)]
        return f"{parts[0]['say'](*worst)} (each leg's worst over {len(parts)} stretches)"
    most = max(parts, key=lambda p: p["severity"])  # the first of equals
    return f"{most['reason']} (the most extreme of {len(parts)} stretches)"


def episode_row(group: list[Interval], merge_gap_days: int) -> dict:
    start, end = min(i["start"] for i in group), max(i["end"] for i in group)
    rules = list(dict.fromkeys(i["rule"] for i in sorted(group, key=lambda i: i["rule"])))
    names = list(dict.fromkeys(i["name"] for i in group if i["rule"] == "named"))
    days = weekdays_between(start, end)
    by_rule: dict[str, list[Interval]] = {}
    for interval in group:
        by_rule.setdefault(interval["rule"], []).append(interval)
    reason = "; ".join(
        "; ".join(p["reason"] for p in parts) if rule == "named" else stretches_reason(parts)
        for rule, parts in by_rule.items()
    )
    if days > YEAR_WEEKDAYS:
        longest = max(group, key=lambda i: (i["end"] - i["start"], i["rule"]))
        if weekdays_between(longest["start"], longest["end"]) > YEAR_WEEKDAYS:
            why = longest["long_reason"]
        else:
            why = f"signals followed each other with breaks of at most {merge_gap_days} weekdays"
        reason = f"longer than a year: {why}. {reason}"
    main_rule = "drawdown" if "drawdown" in rules else rules[0]
    return {
        "name": " / ".join(names) if names else f"{main_rule} {start:%Y-%m}",
        "start": start.date().isoformat(),
        "end": end.date().isoformat(),
        "business_days": days,
        "rule": ", ".join(rules),
        "reason": reason,
    }


def daily_tags(
    index: pd.DatetimeIndex,
    groups: list[list[Interval]],
    names: list[str],
    inputs_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """``stress`` (inside an episode) and ``stress_reason`` (what fired that day). After
    ``inputs_end`` (the last day every rule has its inputs, ``rules_inputs_end``) a day
    outside every episode is NA, not False: "no stress" is never said of a day no rule
    could read."""
    texts: dict[pd.Timestamp, list[str]] = {}
    stress = np.zeros(len(index), dtype=bool)
    for group, name in zip(groups, names, strict=False):
        start, end = min(i["start"] for i in group), max(i["end"] for i in group)
        inside = (index >= start) & (index <= end)
        stress |= inside
        for day in index[inside]:
            texts.setdefault(day, [])
        for interval in group:
            for day, text in interval["daily"].items():
                if day in texts and text not in texts[day]:
                    texts[day].append(text)
        for day in index[inside]:
            if not texts[day]:
                texts[day].append(f"within episode {name}")
    reason = pd.Series(
        [("; ".join(texts[d]) if d in texts else None) for d in index], index=index, dtype="str"
    )
    flags = pd.Series(stress, index=index, dtype="boolean")
    if inputs_end is not None:
        flags[(index > inputs_end) & ~stress] = pd.NA
    return pd.DataFrame({"stress": flags, "stress_reason": reason}, index=index)


def rules_inputs_end(equity_levels: pd.Series | None, bond_levels: pd.Series | None) -> pd.Timestamp | None:
    """The last day on which every stress rule has its inputs: the equity's last value (the
    drawdown rule, and the volatility rule, whose VIX hands over to the equity's realised
    volatility where VIX has no value, so VIX ending first leaves the rule its input), and
    the bond's when the joint-fall rule runs. None without an equity (no rule reads data)."""
    if equity_levels is None or equity_levels.notna().sum() == 0:
        return None
    end = equity_levels.last_valid_index()
    if bond_levels is not None and bond_levels.notna().any():
        end = min(end, bond_levels.last_valid_index())
    return end


def forbes_rigobon(rho: float, variance_during: float, variance_before: float) -> float:
    """rho* = rho / sqrt(1 + delta (1 - rho^2)), delta = var_during / var_before - 1 of the
    source (equity) leg: the correlation with the effect of higher volatility taken out."""
    delta = variance_during / variance_before - 1.0
    return float(rho / np.sqrt(1.0 + delta * (1.0 - rho**2)))


def fisher_interval(rho: float, n: int, confidence: float = FR_CONFIDENCE) -> tuple[float, float]:
    """Fisher-z interval of a Pearson correlation of ``n`` independent pairs (NaN below 4)."""
    from statistics import NormalDist

    if not np.isfinite(rho) or n < 4:
        return np.nan, np.nan
    z = np.arctanh(np.clip(rho, -1 + 1e-12, 1 - 1e-12))
    half = NormalDist().inv_cdf(0.5 + confidence / 2) / np.sqrt(n - 3)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


EPISODE_STATS = [
    "before",
    "during",
    "adjusted",
    "n_before",
    "n_during",
    "baseline_start",
    "baseline_end",
    "before_lo",
    "before_hi",
    "during_lo",
    "during_hi",
    "adjusted_lo",
    "adjusted_hi",
    "too_short",
]


def episode_stat_column(stat: str, column: str) -> str:
    """stress_episodes.csv's column of one statistic of a pair column beyond the three of
    ``_contracts`` (before/during/adjusted): ``n_during:A:B:W``, ``corr_during_lo95:A:B:W``,
    ``baseline_start:A:B:W``, ``too_short:A:B:W``, ..."""
    tag = f"{round(FR_CONFIDENCE * 100):d}"
    if stat.endswith(("_lo", "_hi")):
        return f"corr_{stat}{tag}:{column}"
    return f"{stat}:{column}"


def calm_days(index: pd.DatetimeIndex, episodes: pd.DataFrame) -> np.ndarray:
    """True on the days of ``index`` (sorted) inside no episode of ``episodes``: each
    episode covers the days from the first on or after its start to the last on or
    before its end, counted with one running sum over all of them."""
    days = index.values.astype("datetime64[ns]")
    first = np.searchsorted(days, pd.to_datetime(episodes["start"]).values.astype("datetime64[ns]"), "left")
    stop = np.searchsorted(days, pd.to_datetime(episodes["end"]).values.astype("datetime64[ns]"), "right")
    covers = stop > first  # an episode with no day of the index covers none
    count = np.zeros(len(days) + 1, dtype="int64")
    np.add.at(count, first[covers], 1)
    np.add.at(count, stop[covers], -1)
    return np.cumsum(count[:-1]) == 0


def episode_correlations(
    episodes: pd.DataFrame, pair: pd.DataFrame, before_days: int, min_days: int, min_days_for_inference: int
) -> pd.DataFrame:
    """Per episode (columns ``EPISODE_STATS``): the pair's return correlation before (the
    ``before_days`` pair days before the start that lie in no episode of the table), during,
    and Forbes-Rigobon adjusted (source leg: the first column), each with its days and a
    Fisher-z interval; ``too_short`` when the episode has fewer than
    ``min_days_for_inference`` days of the pair. Fewer than ``min_days`` days during or
    before leave the correlations NaN."""
    source, other = pair.columns
    returns = pair.dropna()
    calm = returns[calm_days(returns.index, episodes)]
    rows = []
    for _, episode in episodes.iterrows():
        during = returns.loc[episode["start"] : episode["end"]]
        before = calm.loc[: pd.Timestamp(episode["start"]) - pd.Timedelta(days=1)].tail(before_days)
        row = dict.fromkeys(EPISODE_STATS, np.nan)
        row |= {
            "n_before": len(before),
            "n_during": len(during),
            "too_short": len(during) < min_days_for_inference,
        }
        if len(before):
            row |= {
                "baseline_start": before.index[0].date().isoformat(),
                "baseline_end": before.index[-1].date().isoformat(),
            }
        if len(during) >= min_days and len(before) >= min_days:
            rho_before = float(np.corrcoef(before[source], before[other])[0, 1])
            rho_during = float(np.corrcoef(during[source], during[other])[0, 1])
            variances = float(during[source].var()), float(before[source].var())
            lo, hi = fisher_interval(rho_during, len(during))
            row |= {
                "before": rho_before,
                "during": rho_during,
                "adjusted": forbes_rigobon(rho_during, *variances),
                "during_lo": lo,
                "during_hi": hi,
                # rho* rises with rho for a given variance ratio: the interval's ends map through
                "adjusted_lo": forbes_rigobon(lo, *variances) if np.isfinite(lo) else np.nan,
                "adjusted_hi": forbes_rigobon(hi, *variances) if np.isfinite(hi) else np.nan,
            }
            row["before_lo"], row["before_hi"] = fisher_interval(rho_before, len(before))
        rows.append(row)
    out = pd.DataFrame(rows, columns=EPISODE_STATS, index=episodes.index)
    return out.astype({"n_before": "int64", "n_during": "int64", "too_short": "bool"}) if len(out) else out


def history_equity(levels: pd.DataFrame, metadata: dict, equity: str, configured: str | None) -> str | None:
    """The series whose levels extend the equity back (module doc): ``configured`` if set,
    else the price series with the earliest data whose returns correlate at least
    ``HISTORY_MIN_CORR`` with the equity's on at least ``HISTORY_MIN_DAYS`` joint days.
    None when nothing starts before the equity."""
    if configured is not None:
        return configured if configured in levels and levels[configured].notna().any() else None
    if equity not in levels or not levels[equity].notna().any():
        return None
    panel = CleanPanel(levels, metadata)
    first = levels[equity].first_valid_index()
    candidates = []
    for series_id in levels.columns:
        observed = levels[series_id].first_valid_index()
        if series_id == equity or observed is None or observed >= first:
            continue
        if panel.spec(series_id).get("kind", "price") != "price":
            continue
        joint = panel.pair_returns(equity, series_id).dropna()
        if len(joint) >= HISTORY_MIN_DAYS and joint[equity].corr(joint[series_id]) >= HISTORY_MIN_CORR:
            candidates.append((observed, series_id))
    return min(candidates)[1] if candidates else None


def spliced_equity(
    levels: pd.DataFrame, metadata: dict, equity: str, history: str | None
) -> tuple[pd.Series, pd.Series, tuple[str, pd.Timestamp] | None]:
    """(levels, returns, (history, splice day) or None) of the equity extended back by
    ``history``: before the equity's first day the history's levels, rescaled to meet the
    equity's first close (a drawdown is a ratio: the scale does not matter), and its returns."""
    returns_of = CleanPanel(levels, metadata).series_returns

    own = equity in levels and levels[equity].notna().any()
    if history is None or history == equity or not own:
        base = equity if own else history
        return levels[base].rename(base), returns_of(base).rename(base), None
    splice = levels[equity].first_valid_index()
    older = levels[history].loc[: splice - pd.Timedelta(days=1)].dropna()
    if older.empty:
        return levels[equity], returns_of(equity).rename(equity), None
    meeting = levels[history].loc[:splice].dropna().iloc[-1]  # the history's close on (or before) the splice
    early = levels.index < splice
    spliced = levels[equity].where(~early, levels[history] * (levels[equity].loc[splice] / meeting))
    returns = returns_of(equity).where(~early, returns_of(history))
    return spliced.rename(equity), returns.rename(equity), (history, splice)


DATA_ERROR_FACTOR = 2.0  # a value this many times off both neighbours is typed wrong, not traded


def likely_data_errors(levels: pd.Series, outlier_z: float) -> list[dict]:
    """Values of one price, fx or level series that DQ's outlier rule flags (|daily log
    return - median| / (1.4826 MAD) above ``outlier_z``) and that look typed wrong
    (module doc). ``confirmed``: the move in and the opposite move out are both outliers of
    at least ``DATA_ERROR_FACTOR`` (x2 or /2, where a crash whipsaws by ~10 %), and the
    move from the day before to the day after is no outlier. Unconfirmed: the last value,
    flagged on the way in (nothing after it yet); ``likely_error`` says whether that move
    is DATA_ERROR_FACTOR or more. Each: series, date, value, previous, next, return (simple,
    the move in), z, confirmed, likely_error."""
    positive = levels.dropna()
    positive = positive[positive > 0]
    if len(positive) <= 10:
        return []
    values = positive.to_numpy(dtype="float64")
    moves = np.diff(np.log(values))
    centre_scale = robust_centre_scale(moves)
    if centre_scale is None:
        return []
    median, scale = centre_scale

    def z(move):
        return (move - median) / scale

    big = np.log(DATA_ERROR_FACTOR)
    out = []
    for k in np.flatnonzero(np.abs(z(moves)) > outlier_z):
        t = k + 1  # moves[k] goes from value k to value t
        last = t == len(values) - 1
        if not last:
            back, across = moves[t], np.log(values[t + 1] / values[t - 1])
            opposite = np.sign(back) != np.sign(moves[k]) and abs(z(back)) > outlier_z
            if not (opposite and min(abs(back), abs(moves[k])) >= big and abs(z(across)) <= outlier_z):
                continue
        out.append(
            {
                "series": str(levels.name),
                "date": str(positive.index[t].date()),
                "value": float(values[t]),
                "previous": float(values[t - 1]),
                "next": None if last else float(values[t + 1]),
                "return": float(np.expm1(moves[k])),
                "z": float(z(moves[k])),
                "confirmed": not last,
                "likely_error": bool(abs(moves[k]) >= big),
            }
        )
    return out


def without_data_errors(
    levels: pd.DataFrame, metadata: dict, outlier_z: float
) -> tuple[pd.DataFrame, list[dict]]:
    """``levels`` with every confirmed likely data error of a price, fx or level series left
    out (NaN: a return spans the day, as for any missing value), and every error found."""
    panel = CleanPanel(levels, metadata)
    errors = [
        error
        for series_id in levels.columns
        if panel.spec(series_id).get("kind", "price") in ("price", "fx", "level")
        for error in likely_data_errors(levels[series_id], outlier_z)
    ]
    confirmed = [e for e in errors if e["confirmed"]]
    if not confirmed:
        return levels, errors
    cleaned = levels.copy()
    for error in confirmed:
        cleaned.loc[pd.Timestamp(error["date"]), error["series"]] = np.nan
    return cleaned, errors


def stress_episodes(
    levels: pd.DataFrame, metadata: dict, settings: Stress, outlier_z: float, notes: dict | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(episodes table with EPISODE_COLUMNS, daily ``stress`` / ``stress_reason`` on levels' index).
    ``outlier_z``: DQ's outlier threshold, which decides what is a likely data error.
    ``notes``, when given, receives ``data_errors``: the likely data errors of the series
    the rules read (module doc), left out when confirmed."""
    from corrflow.data.contracts import EPISODE_COLUMNS

    equity, bond, vix = settings.equity, settings.bond, settings.vix
    gap = settings.merge_gap_days
    intervals: list[Interval] = []
    equity_levels = bond_levels = None
    levels, errors = without_data_errors(levels, metadata, float(outlier_z))
    history = history_equity(levels, metadata, equity, settings.history_equity)
    if notes is not None:
        read = {equity, bond, vix, history} - {None}
        notes["data_errors"] = [e for e in errors if e["series"] in read]
    if (equity in levels and levels[equity].notna().any()) or history is not None:
        equity_levels, equity_returns, splice = spliced_equity(levels, metadata, equity, history)
        intervals += drawdown_intervals(
            equity_levels,
            settings.drawdown_pct,
            settings.fall_pct,
            settings.fall_days,
            settings.recovery_share,
            splice,
        )
        intervals += volatility_intervals(
            levels[vix] if vix in levels else None,
            equity_returns,
            settings.vix_level,
            settings.realised_vol_days,
            settings.realised_vol_level,
            gap,
            splice,
        )
        # the joint-fall rule stays on the configured equity's own days: the history stands
        # in for drawdown and volatility (a bear market, a crash) where the equity has no data
        if equity in levels and bond in levels and bond != equity:
            bond_levels = levels[bond]
            panel = CleanPanel(levels, metadata)
            pair = panel.pair_returns(equity, bond)
            # a yield's returns are its bond's price returns: "DGS10 down" would read as the yield
            names = {s: f"the {s} bond" for s in (equity, bond) if panel.spec(s).get("kind") == "yield"}
            intervals += joint_fall_intervals(
                pair, settings.joint_fall_days, settings.joint_fall_pct, gap, names
            )
    if len(levels.index):
        intervals += named_intervals(settings.episodes, levels.index[0], levels.index[-1])
    groups = merge_blips(merge_intervals(intervals, gap))
    rows = [episode_row(g, gap) for g in groups]
    seen: dict[str, int] = {}
    for row in rows:  # two unnamed episodes in one month: "joint fall 1999-02", "joint fall 1999-02 (2)"
        seen[row["name"]] = seen.get(row["name"], 0) + 1
        if seen[row["name"]] > 1:
            row["name"] = f"{row['name']} ({seen[row['name']]})"
    table = pd.DataFrame(rows, columns=EPISODE_COLUMNS)
    table["business_days"] = table["business_days"].astype("int64")
    inputs_end = rules_inputs_end(equity_levels, bond_levels)
    return table, daily_tags(levels.index, groups, table["name"].tolist(), inputs_end)
