"""The rolling-correlation kernel drivers.

- Columns that share their days (``rolling_corr_pairs``, ``rolling_pearson``): per-column
  moments in numpy, the per-pair loop compiled (``_kernels.segment_cross_corr``).
- Pairs of a universe on each pair's own joint days (``JointDayPanel``,
  ``joint_day_rolling_corr``, and every pair by first series: ``AllPairsBySeries``): the
  compiled ``_kernels.joint_day_corr`` walks each pair's dates, so a series on another
  exchange's calendar, a 24/7 series or one with a missing day gets exactly what the
  pair gets configured (``pair_rolling_corr``), with no common grid. ``AllPairsBySeries``
  runs the pairs whose legs share their days in lock-step (``JointDayPlan``:
  ``_kernels.lockstep_moments`` and ``_kernels.lockstep_corr``) and the rest on that walk.
"""

from statistics import NormalDist

import numpy as np
import pandas as pd

from corrflow.analytics.panel import CleanPanel


def _segments(values: np.ndarray, window: int) -> np.ndarray:
    """Overlapping 2-window segments: segment b holds rows (b-1)*window .. (b+1)*window - 1.

    Shape (blocks, 2 * window, columns); rows before the start are NaN. Every trailing
    window ending in block b lies inside segment b, so sums over it can be taken from
    prefix sums within the segment, centred on the segment's own mean.
    """
    n_rows, n_cols = values.shape
    blocks = -(-n_rows // window)
    padded = np.full(((blocks + 1) * window, n_cols), np.nan)
    padded[window : window + n_rows] = values
    view = np.lib.stride_tricks.sliding_window_view(padded, 2 * window, axis=0)[::window]
    return np.moveaxis(view, -1, 1)[:blocks]


def _window_sums(prefix: np.ndarray, window: int, n_rows: int) -> np.ndarray:
    """Trailing-window sums from in-segment inclusive prefix sums -> (n_rows, columns)."""
    sums = prefix[:, window:, :] - prefix[:, :window, :]
    return sums.reshape(-1, prefix.shape[2])[:n_rows]


def _trailing_counts(flags: np.ndarray, window: int) -> np.ndarray:
    """Exact integer count of true flags in each trailing window (-1 before a full window)."""
    total = np.cumsum(flags, axis=0, dtype="int64")
    out = np.full(total.shape, -1, dtype="int64")
    if len(total) >= window:
        out[window - 1] = total[window - 1]
        out[window:] = total[window:] - total[:-window]
    return out


def _column_moments(values: np.ndarray, window: int):
    """Per column: segment-centred values and, per trailing window, the centred sum and
    1 / sqrt(centred sum of squares), NaN where the window has a missing value or no
    change at all (decided on exact integer counts, not on a rounding-sized variance)."""
    n_rows = values.shape[0]
    missing = np.isnan(values)
    changed = np.zeros_like(missing)
    changed[1:] = values[1:] != values[:-1]
    usable = (_trailing_counts(missing, window) == 0) & (_trailing_counts(changed, window - 1) > 0)
    usable[: window - 1] = False
    segments = _segments(values, window)
    valid = ~np.isnan(segments)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(valid, segments, 0.0).sum(axis=1) / valid.sum(axis=1)
    centred = np.where(valid, segments - np.nan_to_num(centre)[:, None, :], 0.0)
    sums = _window_sums(np.cumsum(centred, axis=1), window, n_rows)
    sums_sq = _window_sums(np.cumsum(centred * centred, axis=1), window, n_rows)
    variance = np.where(usable, sums_sq - sums * sums / window, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_sd = 1.0 / np.sqrt(np.where(variance > 0, variance, np.nan))
    return centred, sums, inv_sd


class _PairKernel:
    """The per-column arrays of one (returns, window), computed once, and the compiled
    per-pair loop run over any stretch of dates into any layout."""

    def __init__(self, values: np.ndarray, window: int):
        centred, sums, inv_sd = _column_moments(values, window)
        self.window, self.n_rows = window, values.shape[0]
        self.centred = np.ascontiguousarray(np.moveaxis(centred, 2, 0))
        self.sums = np.ascontiguousarray(sums.T)
        self.means = self.sums / window
        self.inv_sd = np.ascontiguousarray(inv_sd.T)

    def run(self, pairs, out, offsets, strides, t_start: int = 0, t_stop: int | None = None) -> None:
        from corrflow.analytics.correlation.kernels import segment_cross_corr

        segment_cross_corr(
            self.centred,
            self.sums,
            self.means,
            self.inv_sd,
            np.ascontiguousarray(pairs, dtype="int64"),
            self.window,
            t_start,
            self.n_rows if t_stop is None else t_stop,
            out,
            np.asarray(offsets, dtype="int64"),
            np.asarray(strides, dtype="int64"),
            work=len(pairs) * self.n_rows,
        )


def rolling_corr_pairs(returns: np.ndarray, pairs: np.ndarray, window: int) -> np.ndarray:
    """Rolling Pearson correlation of column pairs: (T x N), (P x 2) -> (P x T).

    Pandas semantics with min_periods = window: a window with any missing value in
    either column is NaN. A window in which a column does not change (zero variance) is
    NaN, never inf; results are clipped to [-1, 1]. Each pair's series is contiguous in
    the result (row p).

    Numerics: sums over each window come from prefix sums inside an overlapping segment
    of two windows, on values centred by that segment's mean. The running totals stay
    the size of two windows (no drift over the whole sample) and the centring keeps the
    one-pass formulas cov = Sxy - Sx*Sy/W, var = Sxx - Sx^2/W free of cancellation; the
    result is within 1e-13 of an exact (extended-precision, two-pass) computation for
    windows of 5 and more, and within ~1e-12 of pandas' online algorithm, whose own
    error is of that size on near-flat series (at window 2, where r is +-1 anyway, a
    nearly constant pair can be off by ~1e-11). Per-column work is numpy, O(T N); the
    per-pair loop, O(T P), is compiled (``_kernels.segment_cross_corr``).
    """
    values = np.asarray(returns, dtype="float64")
    n_rows = values.shape[0]
    pairs = np.asarray(pairs, dtype="int64").reshape(-1, 2)
    if n_rows < window or not len(pairs):
        return np.full((len(pairs), n_rows), np.nan)
    out = np.empty(len(pairs) * n_rows)  # the kernel writes every cell (NaN before a full window)
    _PairKernel(values, window).run(pairs, out, np.arange(len(pairs)) * n_rows, np.ones(len(pairs)))
    return out.reshape(len(pairs), n_rows)


class JointDayPanel:
    """A universe's levels (clean.parquet as a ``CleanPanel``) laid out for the joint-day
    kernel: levels and log levels per series, par-bond duration and convexity of the
    yields, weekdays elapsed, and per pair of calendars the running count of days both
    were open (for ``max_gap_days``)."""

    def __init__(self, clean: CleanPanel):
        from corrflow.analytics.returns import par_bond_duration_convexity
        from corrflow.data.calendars import open_mask

        levels, specs = clean.levels, clean.specs
        self.names = list(levels.columns)
        self.index = levels.index
        self.level = np.ascontiguousarray(levels.to_numpy(dtype="float64").T)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.log_level = np.log(np.where(self.level > 0, self.level, np.nan))
        yields = [k for k, name in enumerate(self.names) if specs.get(name, {}).get("kind") == "yield"]
        self.yield_row = np.full(len(self.names), -1, dtype="int64")
        self.duration = np.zeros((len(yields), len(self.index)))
        self.convexity = np.zeros((len(yields), len(self.index)))
        for row, k in enumerate(yields):
            maturity = specs[self.names[k]].get("maturity")
            if not maturity:
                raise ValueError(f"yield series {self.names[k]!r} needs `maturity` in config key `series`")
            self.yield_row[k] = row
            self.duration[row], self.convexity[row] = par_bond_duration_convexity(
                np.nan_to_num(self.level[k] / 100.0), float(maturity)
            )
        days = self.index.values.astype("datetime64[D]")
        self.weekday_ordinal = np.busday_count(days[0], days) if len(days) else np.zeros(0, "int64")
        closed = clean.calendars
        calendar_names = [specs.get(name, {}).get("calendar") for name in self.names]
        distinct = sorted({c for c in calendar_names if c is not None})
        code = {name: k for k, name in enumerate(distinct)}
        self.calendar_of = np.array([code.get(c, len(distinct)) for c in calendar_names], dtype="int64")
        masks = [open_mask(self.index, closed.get(c, [])) for c in distinct] + [
            np.ones(len(self.index), dtype=bool)  # a series with no calendar: every row
        ]
        k_count = len(masks)
        self.pair_calendar = np.zeros((k_count, k_count), dtype="int64")
        prefixes = []
        for a in range(k_count):
            for b in range(a, k_count):
                self.pair_calendar[a, b] = self.pair_calendar[b, a] = len(prefixes)
                prefixes.append(np.concatenate([[0], np.cumsum(masks[a] & masks[b])]))
        self.open_prefix = np.array(prefixes, dtype="int64")
        self.max_gap = -1 if clean.max_gap_days is None else int(clean.max_gap_days)

    def position(self, name: str) -> int:
        return self.names.index(name)

    def panel_arrays(self) -> tuple:
        """The panel as the compiled kernels take it, in their argument order."""
        return (
            self.log_level,
            self.level,
            self.yield_row,
            self.duration,
            self.convexity,
            self.weekday_ordinal,
            self.calendar_of,
            self.pair_calendar,
            self.open_prefix,
            self.max_gap,
        )

    def run(self, pairs, window, out, offsets, strides, state, ring, t_start=0, t_stop=None) -> None:
        """Rows t_start <= t < t_stop of each pair into ``out`` (see ``joint_day_corr``)."""
        from corrflow.analytics.correlation.kernels import joint_day_corr

        joint_day_corr(
            *self.panel_arrays(),
            np.ascontiguousarray(pairs, dtype="int64"),
            window,
            t_start,
            len(self.index) if t_stop is None else t_stop,
            out,
            np.asarray(offsets, dtype="int64"),
            np.asarray(strides, dtype="int64"),
            state,
            ring,
            work=len(pairs) * len(self.index),
        )

    def summary(self, pairs, recent: int, recent_only: bool = False, t_stop: int | None = None) -> dict:
        """Each pair's correlation over all its joint-day returns and over its last
        ``recent`` (``joint_day_summary_corr``): arrays full, recent (NaN with
        ``recent_only``), count, first, last, recent_first (rows; -1 none)."""
        from corrflow.analytics.correlation.kernels import joint_day_summary_corr

        pairs = np.ascontiguousarray(pairs, dtype="int64").reshape(-1, 2)
        n = len(pairs)
        out = {"full": np.empty(n), "recent": np.empty(n)}
        out |= {k: np.empty(n, dtype="int64") for k in ("count", "first", "last", "recent_first")}
        joint_day_summary_corr(
            *self.panel_arrays(),
            pairs,
            recent,
            recent_only,
            len(self.index) if t_stop is None else t_stop,
            out["full"],
            out["recent"],
            out["count"],
            out["first"],
            out["last"],
            out["recent_first"],
            work=n * (min(recent, len(self.index)) if recent_only else len(self.index)),
        )
        return out

    @staticmethod
    def start_state(n_pairs: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        state = np.zeros((n_pairs, 12))
        state[:, 0] = -1
        return state, np.zeros((n_pairs, 2, window))


LOCKSTEP_BLOCKS = 8  # blocks of lock-step moments held at a time (memory: 8 x 5 windows x slots)
LOCKSTEP_RUN = 128  # pairs per run of the lock-step kernel at most
LOCKSTEP_TASK = 1024  # pairs per parallel task of the lock-step kernel at most (consecutive runs)


def lockstep_tasks(run_group: np.ndarray, run_length: np.ndarray) -> np.ndarray:
    """The lock-step kernel's parallel tasks: consecutive runs of one group of at most
    LOCKSTEP_TASK pairs in all (a longer run alone); task x is runs ``task_run[x]`` ..
    ``task_run[x + 1] - 1``."""
    starts = []
    pairs = 0
    for q, (group, length) in enumerate(zip(run_group.tolist(), run_length.tolist(), strict=True)):
        if q == 0 or group != run_group[q - 1] or pairs + length > LOCKSTEP_TASK:
            starts.append(q)
            pairs = 0
        pairs += length
    return np.array(starts + [len(run_group)], dtype="int64")


class JointDayPlan:
    """Every pair of ``pairs`` (P x 2 series positions) on its own joint days, as
    ``joint_day_corr`` computes it, but split by what the pairs' days are.

    A series is regular when it has a value on every row of its calendar group (the rows
    where some series of its calendar has one) from its first value to its last: one
    calendar's series with no holes of their own, whatever their start and end. Two
    regular series' joint days are the rows both groups share, within both series'
    spans; so all regular pairs of two calendar groups run in lock-step on those rows
    (``kernels.lockstep_moments`` once per series and block, then
    ``kernels.lockstep_corr`` across the pairs; every group in one parallel call, as
    each call can wait milliseconds for a busy core), each pair NaN outside its span
    exactly as its own walk would give. Pairs with a series that has holes of its own (a
    missing day the rest of its calendar has) keep the general walk
    (``joint_day_corr``). Rows are processed in stretches, in order (``run``), each
    pair's window carried across.

    Within a group the members are ordered by calendar, then as in the universe, so that
    a series' pairs with a calendar's later members are consecutive members: runs of at
    most LOCKSTEP_RUN pairs; the kernel's parallel tasks are consecutive runs of a group
    (``lockstep_tasks``), each walked day by day."""

    def __init__(self, panel: JointDayPanel, pairs: np.ndarray, window: int):
        self.panel, self.window = panel, window
        pairs = np.ascontiguousarray(pairs, dtype="int64").reshape(-1, 2)
        has = ~np.isnan(panel.level)
        codes = panel.calendar_of
        involved = np.unique(pairs)
        base, regular = {}, np.zeros(len(codes), dtype=bool)
        for code in np.unique(codes[involved]) if len(involved) else []:
            base[code] = has[codes == code].any(axis=0)
            members = involved[codes[involved] == code]
            # a member's days are some of its calendar group's: it is regular when it has
            # as many from its first value to its last as the group has there
            own = has[members]
            count = own.sum(axis=1)
            first = own.argmax(axis=1)
            last = own.shape[1] - 1 - own[:, ::-1].argmax(axis=1)
            group_prefix = np.r_[0, np.cumsum(base[code])]
            regular[members] = (count > 0) & (count == group_prefix[last + 1] - group_prefix[first])
        lockstep = regular[pairs[:, 0]] & regular[pairs[:, 1]] if len(pairs) else np.zeros(0, dtype=bool)
        self.pairs = pairs
        self.general = np.flatnonzero(~lockstep)
        self.state, self.ring = panel.start_state(len(self.general), window)
        keys = np.sort(codes[pairs[lockstep]], axis=1) if lockstep.any() else np.zeros((0, 2), dtype="int64")
        positions = np.flatnonzero(lockstep)
        order, slots, slot_group, days, day0, n_days, both = [], [], [], [], [], [], []
        run_group, run_left, run_right, run_start = [], [], [], []
        slot_of = np.full(len(codes), -1, dtype="int64")
        n_codes = int(codes.max()) + 1 if len(codes) else 1
        group_key = keys[:, 0] * n_codes + keys[:, 1]  # one number per pair of calendars
        for g, key in enumerate(np.unique(group_key)):
            c1, c2 = divmod(int(key), n_codes)
            chosen = positions[group_key == key]
            members = np.unique(pairs[chosen])
            members = members[np.lexsort((members, codes[members]))]  # by calendar, then position
            slot_of[members] = len(slots) + np.arange(len(members))
            slots += members.tolist()
            slot_group += [g] * len(members)
            group_days = np.flatnonzero(base[c1] & base[c2])
            day0.append(sum(len(d) for d in days))
            days.append(group_days)
            n_days.append(len(group_days))
            both.append(int(panel.pair_calendar[c1, c2]))
            left, right = slot_of[pairs[chosen, 0]], slot_of[pairs[chosen, 1]]
            # a run: one left slot, consecutive right slots, at most LOCKSTEP_RUN pairs
            breaks = np.ones(len(chosen), dtype=bool)
            breaks[1:] = (left[1:] != left[:-1]) | (right[1:] != right[:-1] + 1)
            natural = np.flatnonzero(breaks)
            within = np.arange(len(chosen)) - natural[np.cumsum(breaks) - 1]
            starts = np.flatnonzero(breaks | (within % LOCKSTEP_RUN == 0))
            run_group += [g] * len(starts)
            run_left += left[starts].tolist()
            run_right += right[starts].tolist()
            run_start += (len(order) + starts).tolist()
            order += chosen.tolist()
        as_int = lambda values: np.array(values, dtype="int64")  # noqa: E731
        self.lockstep = as_int(order)  # positions in ``pairs``, in the kernel's pair order
        self.slot_series, self.slot_group = as_int(slots), as_int(slot_group)
        self.days = np.concatenate(days).astype("int64") if days else as_int([])
        self.group_day0, self.group_days, self.group_both = as_int(day0), as_int(n_days), as_int(both)
        self.run_group, self.run_left, self.run_right = as_int(run_group), as_int(run_left), as_int(run_right)
        self.run_start = as_int(run_start)
        self.run_length = np.diff(np.append(self.run_start, len(order))).astype("int64")
        self.task_run = lockstep_tasks(self.run_group, self.run_length)
        self.cross = np.zeros(len(order))
        self.done = np.zeros(len(n_days), dtype="int64")  # days of each group computed so far
        self.moments = None  # lockstep_moments' output arrays, reused from pass to pass

    def run(self, out, offsets, strides, t_start: int = 0, t_stop: int | None = None) -> None:
        """Rows t_start <= t < t_stop of every pair into ``out``: pair p's value on row t
        goes to ``out[offsets[p] + t * strides[p]]`` (every cell of those rows written)."""
        from corrflow.analytics.correlation.kernels import (
            fill_nan_rows,
            joint_day_corr,
            lockstep_corr,
            lockstep_moments,
        )

        t_stop = len(self.panel.index) if t_stop is None else t_stop
        offsets = np.asarray(offsets, dtype="int64")
        strides = np.asarray(strides, dtype="int64")
        arrays = self.panel.panel_arrays()
        window = self.window
        # a group's pairs are NaN on the stretch's rows that are not its days: every cell of
        # such a row is set to NaN first (a row's cells side by side), the kernels below then
        # write every cell of the general walk's pairs and the groups' days
        stop = np.array(
            [
                np.searchsorted(self.days[d0 : d0 + n], t_stop)
                for d0, n in zip(self.group_day0, self.group_days, strict=True)
            ],
            dtype="int64",
        )
        in_every_group = np.ones(t_stop - t_start, dtype=bool)
        for d0, n, start in zip(self.group_day0, self.group_days, self.done, strict=True):
            days = self.days[d0 : d0 + n]
            in_group = np.zeros(t_stop - t_start, dtype=bool)
            in_group[days[start : np.searchsorted(days, t_stop)] - t_start] = True
            in_every_group &= in_group
        if len(self.lockstep) and not in_every_group.all():
            # segments: runs of pairs (in order) whose cells of a row are consecutive
            breaks = np.ones(len(offsets), dtype=bool)
            breaks[1:] = (offsets[1:] != offsets[:-1] + 1) | (strides[1:] != strides[:-1])
            first = np.flatnonzero(breaks)
            fill_nan_rows(
                out,
                offsets[first],
                np.diff(np.append(first, len(offsets))),
                strides[first],
                t_start + np.flatnonzero(~in_every_group),
                work=len(self.pairs) * len(self.panel.index),
            )
        if len(self.general):
            joint_day_corr(
                *arrays,
                self.pairs[self.general],
                self.window,
                t_start,
                t_stop,
                out,
                offsets[self.general],
                strides[self.general],
                self.state,
                self.ring,
                work=len(self.general) * len(self.panel.index),  # the plan's whole walk, not this stretch
            )
        if not len(self.lockstep):
            return
        lock_offsets, lock_strides = offsets[self.lockstep], strides[self.lockstep]
        slots = len(self.slot_series)
        while (self.done < stop).any():  # at most LOCKSTEP_BLOCKS blocks of every group per pass
            k_start = self.done
            k_stop = np.minimum(stop, (k_start // window + LOCKSTEP_BLOCKS) * window)
            b_first = k_start // window
            blocks = np.where(k_stop > k_start, (k_stop - 1) // window - b_first + 1, 0)
            n_blocks = int(blocks.max())
            if self.moments is None or len(self.moments[0]) < n_blocks:
                # kept for the next passes: fresh arrays of this size come from the system
                # as untouched pages, whose first writes (page faults) cost as much as the
                # moments themselves
                self.moments = (
                    np.empty((n_blocks, 2 * window, slots)),
                    *(np.empty((n_blocks, window, slots)) for _ in range(3)),
                )
            centred, sums, means, inv_sd = self.moments
            lockstep_moments(
                *arrays[:6],
                arrays[8],
                arrays[9],
                self.slot_series,
                self.slot_group,
                self.days,
                self.group_day0,
                self.group_days,
                self.group_both,
                b_first,
                blocks,
                window,
                centred,
                sums,
                means,
                inv_sd,
                work=len(self.lockstep) * len(self.panel.index),
            )
            lockstep_corr(
                centred,
                sums,
                means,
                inv_sd,
                self.task_run,
                self.run_group,
                self.run_left,
                self.run_right,
                self.run_start,
                self.run_length,
                self.days,
                self.group_day0,
                k_start,
                k_stop,
                b_first,
                window,
                out,
                lock_offsets,
                lock_strides,
                self.cross,
                work=len(self.lockstep) * len(self.panel.index),
            )
            self.done = k_stop


def joint_day_rolling_corr(panel: JointDayPanel, pairs: list[tuple[str, str]], window: int) -> pd.DataFrame:
    """Each pair's rolling Pearson correlation on its own joint days, one column ``A:B``
    per pair on the universe's dates (NaN on days that are not the pair's)."""
    codes = np.array([[panel.position(a), panel.position(b)] for a, b in pairs], dtype="int64").reshape(-1, 2)
    n_rows = len(panel.index)
    out = np.empty(len(codes) * n_rows)
    state, ring = panel.start_state(len(codes), window)
    panel.run(codes, window, out, np.arange(len(codes)), np.full(len(codes), len(codes)), state, ring)
    return pd.DataFrame(
        out.reshape(n_rows, len(codes)), index=panel.index, columns=[f"{a}:{b}" for a, b in pairs]
    )


def all_pairs_rolling_corr(
    levels: pd.DataFrame, metadata: dict, pairs: list[tuple[str, str]], window: int
) -> pd.DataFrame:
    """Rolling Pearson correlation of ``pairs`` of clean levels (clean.parquet and its
    metadata), each pair on its own joint days, a column ``A:B`` each (the compiled
    kernel; equal to ``pair_rolling_corr`` of each pair within ~1e-13)."""
    return joint_day_rolling_corr(JointDayPanel(CleanPanel(levels, metadata)), pairs, window)


def pair_rolling_corr(levels: pd.DataFrame, metadata: dict, a: str, b: str, window: int) -> pd.Series:
    """One pair's rolling Pearson correlation over ``window`` of its joint returns
    (``_returns.pair_returns``: the days both series have a value, both legs' returns
    spanning the same stretch), on the levels' dates: the one method behind
    rolling_corr.csv, the dashboard and the report."""
    joint = CleanPanel(levels, metadata).pair_returns(a, b)
    return rolling_pearson(joint[a], joint[b], window).reindex(levels.index)


class AllPairsBySeries:
    """Every pair's rolling correlation on its own joint days, grouped by the first
    series: for each i in ``series`` (default: all) a (dates x (N-1-i)) array whose
    column c is the pair (i, i+1+c). The kernel writes straight into that layout, a
    stretch of at most ``rows`` dates at a time (default: all) into a buffer from
    ``buffer()``, carrying each pair's window from one stretch to the next (stretches
    in date order); a writer alternates two buffers, storing one stretch while the next
    is computed, so memory stays at two stretches whatever the number of dates. With
    ``date_major`` a stretch is one (dates x pairs) array, the pairs in that order (the
    store's rows, no copy to make); with ``parts`` (contiguous ranges of first series that
    cover ``series``) one such array per part, each contiguous, so that the store's part
    files are encoded side by side without a copy."""

    def __init__(
        self,
        panel: JointDayPanel,
        window: int,
        dtype: str = "float64",
        series: range | None = None,
        rows: int | None = None,
        date_major: bool = False,
        parts: list[range] | None = None,
    ):
        self.panel, self.window = panel, window
        self.date_major = date_major
        self.n_rows, n_cols = len(panel.index), len(panel.names)
        self.rows = self.n_rows if rows is None else max(1, min(rows, self.n_rows))
        self.dtype = dtype
        series = range(n_cols - 1) if series is None else series
        pairs = all_pairs(list(range(n_cols)))
        self.pairs = pairs[(pairs[:, 0] >= series.start) & (pairs[:, 0] < series.stop)]
        self.widths = n_cols - 1 - np.arange(series.start, series.stop)
        self.block_start = np.concatenate([[0], np.cumsum(self.widths * self.rows)[:-1]]).astype("int64")
        # pair p at date t goes to offsets[p] + (t - t_start) * strides[p] of a buffer
        self.offsets = self.block_start[self.pairs[:, 0] - series.start] + (
            self.pairs[:, 1] - self.pairs[:, 0] - 1
        )
        self.strides = self.widths[self.pairs[:, 0] - series.start]
        # the date-major parts: pairs part_start[q] <= p < part_start[q + 1], one after the other
        first_series = [part.start for part in (parts or [series])[1:]]
        self.part_start = np.r_[0, np.searchsorted(self.pairs[:, 0], first_series), len(self.pairs)]
        if date_major:  # one (dates x pairs) array per part instead of one block per first series
            part_of = np.searchsorted(self.part_start, np.arange(len(self.pairs)), side="right") - 1
            part_of = np.minimum(part_of, len(self.part_start) - 2)
            first = self.part_start[part_of]
            self.offsets = (first * self.rows + np.arange(len(self.pairs)) - first).astype("int64")
            self.strides = (self.part_start[part_of + 1] - first).astype("int64")
        self.plan = JointDayPlan(panel, self.pairs, window)

    def buffer(self) -> np.ndarray:
        return np.empty(len(self.pairs) * self.rows, dtype=self.dtype)

    def compute(self, out: np.ndarray, t_start: int = 0, t_stop: int | None = None) -> list[np.ndarray]:
        """Dates t_start <= t < t_stop into ``out`` (after every earlier stretch); returns
        the per-series blocks, views of ``out`` of t_stop - t_start rows each."""
        t_stop = self.n_rows if t_stop is None else t_stop
        if t_stop - t_start > self.rows:
            raise ValueError(f"a stretch of {t_stop - t_start} dates does not fit a buffer of {self.rows}")
        if self.date_major:
            blocks = [
                out[first * self.rows : first * self.rows + (last - first) * (t_stop - t_start)].reshape(
                    t_stop - t_start, last - first
                )
                for first, last in zip(self.part_start[:-1], self.part_start[1:], strict=True)
            ]
        else:
            blocks = [
                out[s : s + w * self.rows].reshape(self.rows, w)[: t_stop - t_start]
                for s, w in zip(self.block_start, self.widths, strict=False)
            ]
        if len(self.pairs):
            self.plan.run(out, self.offsets - t_start * self.strides, self.strides, t_start, t_stop)
        return blocks


def all_pairs_by_series(
    levels: pd.DataFrame, metadata: dict, window: int, dtype: str = "float64", series: range | None = None
) -> list[np.ndarray]:
    """All dates of ``AllPairsBySeries`` at once: the list of (T x (N-1-i)) blocks."""
    result = AllPairsBySeries(JointDayPanel(CleanPanel(levels, metadata)), window, dtype, series)
    return result.compute(result.buffer())


def fisher_band(corr: pd.Series | np.ndarray, window: int, confidence: float) -> tuple:
    """Confidence band of a Pearson correlation over ``window`` observations (Fisher z).

    z = atanh(r) is about normal with standard error 1/sqrt(n - 3); the band is
    tanh(z -+ q * se) with q the normal quantile of the two-sided confidence.
    """
    q = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    z = np.arctanh(corr.clip(-1 + 1e-15, 1 - 1e-15))
    half_width = q / np.sqrt(window - 3)
    return np.tanh(z - half_width), np.tanh(z + half_width)


def all_pairs(columns: list[str]) -> np.ndarray:
    """Every unordered pair (i < j) of N columns, row by row: N(N-1)/2 x 2."""
    i, j = np.triu_indices(len(columns), k=1)
    return np.column_stack([i, j])


def rolling_pearson(x: pd.Series, y: pd.Series, window: int) -> pd.Series:
    """One pair's rolling Pearson correlation (see ``rolling_corr_pairs``)."""
    values = np.column_stack([x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")])
    result = rolling_corr_pairs(values, np.array([[0, 1]]), window)[0]
    return pd.Series(result, index=x.index, name=f"{x.name}:{y.name}:{window}")
