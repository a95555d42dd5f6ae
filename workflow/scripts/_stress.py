"""Stress episodes: rules an analyst can state in a sentence, merged into one table.

Each rule gives intervals (start, end) with a reason:

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
form one episode. An episode longer than a year says why in its reason.
"""

import numpy as np
import pandas as pd

from _returns import TRADING_DAYS, pair_returns, series_returns

YEAR_WEEKDAYS = 261


class Interval(dict):
    """start, end (Timestamps), rule, reason, long_reason; ``daily`` maps day -> short text."""


def weekdays_between(start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Weekdays from start to end, both included."""
    return int(np.busday_count(start.date(), (end + pd.Timedelta(days=1)).date()))


def drawdown_intervals(
    levels: pd.Series, drawdown_pct: float, fall_pct: float, fall_days: int, recovery_share: float
) -> list[Interval]:
    """Drawdown episodes of one equity (module doc); ``levels`` may hold NaN (not trading)."""
    prices = levels.dropna()
    values, dates = prices.to_numpy(), prices.index
    recent_high = prices.rolling(fall_days, min_periods=1).max().to_numpy()
    name = levels.name
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
) -> list[Interval]:
    """VIX at or above its level; the equity's realised volatility where VIX has no data."""
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
                f"VIX: {vix.name} at or above {vix_level:g} "
                f"(peak {span.max():.1f} on {span.idxmax().date()})"
            ),
            long_reason=(
                f"{vix.name} stayed at or above {vix_level:g} with breaks of at most {merge_gap_days} days"
            ),
        )
        interval["daily"] = {d: f"VIX {v:.1f}" for d, v in span[span >= vix_level].items()}
        out.append(interval)
    for start, end in runs(by_realised, merge_gap_days):
        span = realised.loc[start:end]
        name = equity_returns.name
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
        interval["daily"] = {
            d: f"realised vol {name} {v:.0f}% (VIX stand-in)" for d, v in span[span >= realised_level].items()
        }
        out.append(interval)
    return out


def joint_fall_intervals(pair: pd.DataFrame, days: int, pct: float, merge_gap_days: int) -> list[Interval]:
    """Both legs of ``pair`` (log returns on the pair's days) down ``pct`` % over ``days`` days."""
    if pair.empty:
        return []
    equity, bond = pair.columns
    returns = pair.dropna()
    moves = np.expm1(returns.rolling(days, min_periods=days).sum())
    hit = (moves[equity] <= -pct / 100.0) & (moves[bond] <= -pct / 100.0)
    # a hit on day t is a fall over the window ending on t: the episode covers that window
    window_start = pd.Series(
        returns.index[np.maximum(np.arange(len(returns)) - days + 1, 0)], index=returns.index
    )
    out = []
    for start, end in runs(hit, merge_gap_days):
        span = moves.loc[start:end]
        interval = Interval(
            start=window_start[start],
            end=end,
            rule="joint fall",
            reason=(
                f"joint fall: {equity} and {bond} both down {pct:g}% or more over {days} days "
                f"(worst {span[equity].min():+.1%} and {span[bond].min():+.1%})"
            ),
            long_reason=(
                f"{equity} and {bond} kept falling together with breaks of at most {merge_gap_days} days"
            ),
        )
        interval["daily"] = {
            d: f"joint fall {equity} {row[equity]:+.1%}, {bond} {row[bond]:+.1%} in {days}d"
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


def episode_row(group: list[Interval], merge_gap_days: int) -> dict:
    start, end = min(i["start"] for i in group), max(i["end"] for i in group)
    rules = list(dict.fromkeys(i["rule"] for i in sorted(group, key=lambda i: i["rule"])))
    names = list(dict.fromkeys(i["name"] for i in group if i["rule"] == "named"))
    days = weekdays_between(start, end)
    by_rule: dict[str, list[Interval]] = {}
    for interval in group:
        by_rule.setdefault(interval["rule"], []).append(interval)
    reason = "; ".join(
        # several stretches of one rule: the first one's words and how many there were
        (
            parts[0]["reason"] + (f" ({len(parts)} stretches)" if len(parts) > 1 and rule != "named" else "")
            if rule != "named"
            else "; ".join(p["reason"] for p in parts)
        )
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


def daily_tags(index: pd.DatetimeIndex, groups: list[list[Interval]], names: list[str]) -> pd.DataFrame:
    """``stress`` (inside an episode) and ``stress_reason`` (what fired that day)."""
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
    return pd.DataFrame({"stress": stress, "stress_reason": reason}, index=index)


def forbes_rigobon(rho: float, variance_during: float, variance_before: float) -> float:
    """rho* = rho / sqrt(1 + delta (1 - rho^2)), delta = var_during / var_before - 1 of the
    source (equity) leg: the correlation with the effect of higher volatility taken out."""
    delta = variance_during / variance_before - 1.0
    return float(rho / np.sqrt(1.0 + delta * (1.0 - rho**2)))


def episode_correlations(
    episodes: pd.DataFrame, pair: pd.DataFrame, before_days: int, min_days: int
) -> pd.DataFrame:
    """Per episode the pair's return correlation before (the ``before_days`` pair days
    before the start), during, and Forbes-Rigobon adjusted (source leg: the first column)."""
    source, other = pair.columns
    returns = pair.dropna()
    rows = []
    for _, episode in episodes.iterrows():
        during = returns.loc[episode["start"] : episode["end"]]
        before = returns.loc[: pd.Timestamp(episode["start"]) - pd.Timedelta(days=1)].tail(before_days)
        if len(during) < min_days or len(before) < min_days:
            rows.append((np.nan, np.nan, np.nan))
            continue
        rho_before = float(np.corrcoef(before[source], before[other])[0, 1])
        rho_during = float(np.corrcoef(during[source], during[other])[0, 1])
        adjusted = forbes_rigobon(rho_during, float(during[source].var()), float(before[source].var()))
        rows.append((rho_before, rho_during, adjusted))
    return pd.DataFrame(rows, columns=["before", "during", "adjusted"], index=episodes.index)


def stress_episodes(
    levels: pd.DataFrame, metadata: dict, settings: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(episodes table with EPISODE_COLUMNS, daily ``stress`` / ``stress_reason`` on levels' index)."""
    from _contracts import EPISODE_COLUMNS, closed_by_series

    specs = metadata.get("series", {})
    closed = closed_by_series(metadata)
    max_gap = metadata.get("calendar", {}).get("max_gap_days")
    equity, bond, vix = settings.get("equity"), settings.get("bond"), settings.get("vix")
    gap = settings["merge_gap_days"]
    intervals: list[Interval] = []
    if equity in levels and levels[equity].notna().any():
        equity_levels = levels[equity]
        intervals += drawdown_intervals(
            equity_levels,
            settings["drawdown_pct"],
            settings["fall_pct"],
            settings["fall_days"],
            settings["recovery_share"],
        )
        equity_returns = series_returns(
            equity_levels, specs.get(equity, {"kind": "price"}), closed.get(equity), max_gap
        )
        intervals += volatility_intervals(
            levels[vix] if vix in levels else None,
            equity_returns.rename(equity),
            settings["vix_level"],
            settings["realised_vol_days"],
            settings["realised_vol_level"],
            gap,
        )
        if bond in levels and bond != equity:
            pair = pair_returns(levels, specs, equity, bond, closed, max_gap)
            intervals += joint_fall_intervals(
                pair, settings["joint_fall_days"], settings["joint_fall_pct"], gap
            )
    if len(levels.index):
        intervals += named_intervals(settings.get("episodes", []), levels.index[0], levels.index[-1])
    groups = merge_intervals(intervals, gap)
    rows = [episode_row(g, gap) for g in groups]
    seen: dict[str, int] = {}
    for row in rows:  # two unnamed episodes in one month: "joint fall 1999-02", "joint fall 1999-02 (2)"
        seen[row["name"]] = seen.get(row["name"], 0) + 1
        if seen[row["name"]] > 1:
            row["name"] = f"{row['name']} ({seen[row['name']]})"
    table = pd.DataFrame(rows, columns=EPISODE_COLUMNS)
    table["business_days"] = table["business_days"].astype("int64")
    return table, daily_tags(levels.index, groups, table["name"].tolist())
