"""Compiled inner loops (numba), kept in their own module so that numba's on-disk cache
(``cache=True``) has a stable file to key on; Snakemake runs each rule's script from a
temporary copy, which would otherwise recompile every run."""

import types

import numba
import numpy as np

CHUNK = 64  # pairs per parallel task
# Work (pair x rows walked) from which a kernel runs on numba's threads. The parallel
# build costs ~1.5-3 CPU s more to compile than the serial one (numba's parfor lowering),
# paid by a fresh checkout's first run; below this size the threads would not win it
# back (the default universe's 36 pairs x 16,000 days: 0.6 M; 200 series x 5,000 days:
# 100 M). Both builds give the same numbers: the threads split the pairs, never a sum.
PARALLEL_WORK = 50_000_000


class TwoWayKernel:
    """A kernel written once (its pair loop a ``numba.prange``) and compiled, on first use
    of each, serially (prange runs as range) or on numba's threads; a call names its
    ``work`` and gets the build that pays off. Each build has its own on-disk cache entry
    (its own qualified name)."""

    def __init__(self, function):
        self.function = function
        self.__doc__, self.__name__ = function.__doc__, function.__name__
        self.serial = numba.njit(cache=True, nogil=True)(renamed(function, "serial"))
        self.parallel = numba.njit(cache=True, nogil=True, parallel=True)(renamed(function, "parallel"))

    def build(self, work: int):
        return self.parallel if work >= PARALLEL_WORK else self.serial

    def __call__(self, *args, work: int):
        return self.build(work)(*args)


def renamed(function, build: str):
    """``function`` under the name ``<name>__<build>`` (numba keys its cache files on it)."""
    clone = types.FunctionType(
        function.__code__, function.__globals__, f"{function.__name__}__{build}", function.__defaults__
    )
    clone.__qualname__ = f"{function.__qualname__}__{build}"
    clone.__module__, clone.__doc__ = function.__module__, function.__doc__
    return clone


@TwoWayKernel
def segment_cross_corr(centred, sums, means, inv_sd, pairs, window, t_start, t_stop, out, offsets, strides):
    """Rolling Pearson correlation of column pairs from segment-centred values.

    centred: (columns, blocks, 2 * window), each column's values in overlapping
        two-window segments, centred on the segment mean, missing as 0;
    sums, means, inv_sd: (columns, n_rows), each column's trailing-window sum and mean
        of centred values and 1 / sqrt(centred sum of squares) (NaN where a window is
        unusable); the means are precomputed so that the loop has no division;
    pairs: (P, 2) column indices; rows t_start <= t < t_stop are computed;
    out: flat float32 or float64 buffer; pair p's value at row t goes to
        out[offsets[p] + t * strides[p]] (every cell in the rows is written), so one
        kernel fills a pair-major (P x T) array or date-major blocks (T x pairs of one
        series), whole or a stretch of dates at a time.
    For the window ending in block b at offset r, the cross sum is the difference of
    two prefix sums inside segment b (no drift across the sample), and the covariance
    sum(xy) - sum(x) sum(y) / W is taken on values centred near the window's own mean.
    Chunks of pairs run on numba's threads (numba.set_num_threads); every pair is
    computed the same way whatever the thread count, so results do not depend on it.
    """
    span = 2 * window
    n_pairs = pairs.shape[0]
    for chunk in numba.prange((n_pairs + CHUNK - 1) // CHUNK):
        prefix = np.empty(span)
        for p in range(chunk * CHUNK, min(n_pairs, (chunk + 1) * CHUNK)):
            i = pairs[p, 0]
            j = pairs[p, 1]
            base = offsets[p]
            step = strides[p]
            for b in range(t_start // window, (t_stop + window - 1) // window):
                acc = 0.0
                for u in range(span):
                    acc += centred[i, b, u] * centred[j, b, u]
                    prefix[u] = acc
                for r in range(max(0, t_start - b * window), min(window, t_stop - b * window)):
                    t = b * window + r
                    value = (
                        (prefix[window + r] - prefix[r] - sums[i, t] * means[j, t])
                        * inv_sd[i, t]
                        * inv_sd[j, t]
                    )
                    if value > 1.0:  # NaN compares false and stays NaN
                        value = 1.0
                    elif value < -1.0:
                        value = -1.0
                    out[base + t * step] = value


@numba.njit(cache=True, nogil=True, inline="always")
def _leg_return(log_level, level, yield_row, duration, convexity, weekday_ordinal, i, prev, t):
    """One leg's return from row ``prev`` to row ``t`` (see ``_returns``): a log price
    change, or for a yield the log of a par bond's total return with carry for the
    weekdays elapsed."""
    k = yield_row[i]
    if k < 0:
        return log_level[i, t] - log_level[i, prev]
    y_prev = level[i, prev] / 100.0
    dy = level[i, t] / 100.0 - y_prev
    accrual = (weekday_ordinal[t] - weekday_ordinal[prev]) / 252.0
    return np.log1p(y_prev * accrual - duration[k, prev] * dy + 0.5 * convexity[k, prev] * dy * dy)


@TwoWayKernel
def joint_day_corr(
    log_level,
    level,
    yield_row,
    duration,
    convexity,
    weekday_ordinal,
    calendar_of,
    pair_calendar,
    open_prefix,
    max_gap,
    pairs,
    window,
    t_start,
    t_stop,
    out,
    offsets,
    strides,
    state,
    ring,
):
    """Rolling Pearson correlation of each pair over its own joint days, streamed.

    A pair's days are the rows where both series have a value; each return runs from the
    pair's previous joint day (so after a holiday of either market both legs span the
    same stretch), NaN where more than ``max_gap`` rows on which both markets were open
    lie between (``open_prefix[pair_calendar[ci, cj]]``: their running count; max_gap < 0:
    no limit). The correlation of the last ``window`` returns is written on each joint
    day (NaN on other days, before a full window, with a NaN return in the window, or
    with a leg that does not change in it), equal to pandas' ``rolling(window).corr``
    on the inner join of the two series.

    Rows t_start <= t < t_stop are processed; ``state`` (P x 12) and ``ring``
    (P x 2 x window) carry each pair from one stretch to the next (start them with
    ``state[:, 0] = -1`` and zeros). Sums are kept on values centred by the window's
    mean, re-centred and recomputed exactly every ``window`` returns, so rounding does
    not accumulate over the sample (a window holding a NaN return is re-centred once
    that return has left; until then the sums hold its finite returns).
    """
    n_pairs = pairs.shape[0]
    for chunk in numba.prange((n_pairs + CHUNK - 1) // CHUNK):
        for p in range(chunk * CHUNK, min(n_pairs, (chunk + 1) * CHUNK)):
            i = pairs[p, 0]
            j = pairs[p, 1]
            both = pair_calendar[calendar_of[i], calendar_of[j]]
            base = offsets[p]
            step = strides[p]
            # state: prev row, returns seen, NaN returns in window, changes of x / y in
            # window, then the sums sx, sy, sxx, syy, sxy and centres cx, cy (as floats)
            prev = int(state[p, 0])
            seen = int(state[p, 1])
            nans = int(state[p, 2])
            changes_x = int(state[p, 3])
            changes_y = int(state[p, 4])
            sx = state[p, 5]
            sy = state[p, 6]
            sxx = state[p, 7]
            syy = state[p, 8]
            sxy = state[p, 9]
            cx = state[p, 10]
            cy = state[p, 11]
            # the ring's next slot and the returns since the last re-centring, counted
            # without a division per day (an integer modulo costs more than the rest)
            slot = seen % window
            for t in range(t_start, t_stop):
                if np.isnan(level[i, t]) or np.isnan(level[j, t]):
                    out[base + t * step] = np.nan
                    continue
                if prev < 0:
                    prev = t
                    out[base + t * step] = np.nan
                    continue
                if max_gap >= 0 and open_prefix[both, t] - open_prefix[both, prev + 1] > max_gap:
                    x = np.nan
                    y = np.nan
                else:
                    x = _leg_return(
                        log_level, level, yield_row, duration, convexity, weekday_ordinal, i, prev, t
                    )
                    y = _leg_return(
                        log_level, level, yield_row, duration, convexity, weekday_ordinal, j, prev, t
                    )
                prev = t
                after = slot + 1 if slot + 1 < window else 0
                if seen >= window:  # the oldest return leaves the window
                    old_x = ring[p, 0, slot]
                    old_y = ring[p, 1, slot]
                    if np.isnan(old_x) or np.isnan(old_y):
                        nans -= 1
                    else:
                        sx -= old_x - cx
                        sy -= old_y - cy
                        sxx -= (old_x - cx) * (old_x - cx)
                        syy -= (old_y - cy) * (old_y - cy)
                        sxy -= (old_x - cx) * (old_y - cy)
                    if ring[p, 0, after] != old_x:
                        changes_x -= 1
                    if ring[p, 1, after] != old_y:
                        changes_y -= 1
                if seen > 0:
                    last = slot - 1 if slot > 0 else window - 1
                    if x != ring[p, 0, last]:
                        changes_x += 1
                    if y != ring[p, 1, last]:
                        changes_y += 1
                ring[p, 0, slot] = x
                ring[p, 1, slot] = y
                if np.isnan(x) or np.isnan(y):
                    nans += 1
                else:
                    sx += x - cx
                    sy += y - cy
                    sxx += (x - cx) * (x - cx)
                    syy += (y - cy) * (y - cy)
                    sxy += (x - cx) * (y - cy)
                seen += 1
                slot = after
                value = np.nan
                if seen >= window and nans == 0:
                    if slot == 0:  # every window returns: re-centre on its mean, sums afresh
                        cx = 0.0
                        cy = 0.0
                        for u in range(window):
                            cx += ring[p, 0, u]
                            cy += ring[p, 1, u]
                        cx /= window
                        cy /= window
                        sx = 0.0
                        sy = 0.0
                        sxx = 0.0
                        syy = 0.0
                        sxy = 0.0
                        for u in range(window):
                            dx = ring[p, 0, u] - cx
                            dy = ring[p, 1, u] - cy
                            sx += dx
                            sy += dy
                            sxx += dx * dx
                            syy += dy * dy
                            sxy += dx * dy
                    if changes_x > 0 and changes_y > 0:
                        vx = sxx - sx * sx / window
                        vy = syy - sy * sy / window
                        if vx > 0.0 and vy > 0.0:
                            value = (sxy - sx * sy / window) / np.sqrt(vx * vy)
                            if value > 1.0:
                                value = 1.0
                            elif value < -1.0:
                                value = -1.0
                out[base + t * step] = value
            state[p, 0] = prev
            state[p, 1] = seen
            state[p, 2] = nans
            state[p, 3] = changes_x
            state[p, 4] = changes_y
            state[p, 5] = sx
            state[p, 6] = sy
            state[p, 7] = sxx
            state[p, 8] = syy
            state[p, 9] = sxy
            state[p, 10] = cx
            state[p, 11] = cy


@numba.njit(cache=True, nogil=True, inline="always")
def _pearson(xs, ys, n):
    """Pearson correlation of the first n values, two-pass (NaN below 3 values or with a
    constant leg), clipped to [-1, 1] as numpy's corrcoef."""
    if n < 3:
        return np.nan
    mx = 0.0
    my = 0.0
    for k in range(n):
        mx += xs[k]
        my += ys[k]
    mx /= n
    my /= n
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    for k in range(n):
        dx = xs[k] - mx
        dy = ys[k] - my
        sxx += dx * dx
        syy += dy * dy
        sxy += dx * dy
    if sxx <= 0.0 or syy <= 0.0:
        return np.nan
    value = sxy / np.sqrt(sxx * syy)
    return min(1.0, max(-1.0, value))


@TwoWayKernel
def joint_day_summary_corr(
    log_level,
    level,
    yield_row,
    duration,
    convexity,
    weekday_ordinal,
    calendar_of,
    pair_calendar,
    open_prefix,
    max_gap,
    pairs,
    recent,
    recent_only,
    t_stop,
    full_corr,
    recent_corr,
    count,
    first_row,
    last_row,
    recent_first_row,
):
    """Each pair's correlation over all its joint-day returns before row ``t_stop`` and
    over its last ``recent`` of them (the returns of ``joint_day_corr``, NaN returns left
    out, as ``pair_returns(...).dropna()``), walking each pair's rows backwards from the
    end; with ``recent_only`` the walk stops after ``recent`` returns (a heatmap of
    thousands of series costs ~recent rows per pair). Also per pair: the count of
    returns, the rows of the first and last and of the first recent one (-1: none)."""
    n_pairs = pairs.shape[0]
    for chunk in numba.prange((n_pairs + CHUNK - 1) // CHUNK):
        xs = np.empty(max(t_stop, 1))
        ys = np.empty(max(t_stop, 1))
        for p in range(chunk * CHUNK, min(n_pairs, (chunk + 1) * CHUNK)):
            i = pairs[p, 0]
            j = pairs[p, 1]
            both = pair_calendar[calendar_of[i], calendar_of[j]]
            n = 0
            later = -1
            first = -1
            last = -1
            recent_first = -1
            u = t_stop - 1
            while u >= 0:
                if not (np.isnan(level[i, u]) or np.isnan(level[j, u])):
                    if later >= 0 and not (
                        max_gap >= 0 and open_prefix[both, later] - open_prefix[both, u + 1] > max_gap
                    ):
                        x = _leg_return(
                            log_level, level, yield_row, duration, convexity, weekday_ordinal, i, u, later
                        )
                        y = _leg_return(
                            log_level, level, yield_row, duration, convexity, weekday_ordinal, j, u, later
                        )
                        if np.isfinite(x) and np.isfinite(y):
                            xs[n] = x
                            ys[n] = y
                            n += 1
                            if last < 0:
                                last = later
                            first = later
                            if n == recent:
                                recent_first = later
                                if recent_only:
                                    break
                    later = u
                u -= 1
            if n < recent:
                recent_first = first
            count[p] = n
            first_row[p] = first
            last_row[p] = last
            recent_first_row[p] = recent_first
            recent_corr[p] = _pearson(xs, ys, min(n, recent))
            full_corr[p] = np.nan if recent_only else _pearson(xs, ys, n)


@TwoWayKernel
def lockstep_moments(
    log_level,
    level,
    yield_row,
    duration,
    convexity,
    weekday_ordinal,
    open_prefix,
    max_gap,
    slot_series,
    slot_group,
    days,
    group_day0,
    group_days,
    group_both,
    group_b_first,
    group_blocks,
    window,
    centred,
    sums,
    means,
    inv_sd,
):
    """Per-series moments of every lock-step group at once (one parallel call, whatever
    the number of groups): slot m is series ``slot_series[m]`` of group
    g = ``slot_group[m]``, whose pairs all run on the rows ``days[group_day0[g]:][:group_days[g]]``;
    ``group_blocks[g]`` blocks of ``window`` of those days from block ``group_b_first[g]``.

    A member's return on day k of its group's days runs from day k - 1 (NaN on day 0,
    where either day lacks a level, or across more than ``max_gap`` rows on which both of
    the group's calendars were open, ``open_prefix[group_both[g]]``): on a pair's joint
    days these are exactly ``joint_day_corr``'s returns, and a day where one leg lacks a
    level makes every window over it NaN, as the pair has no return there. Block b's
    segment holds days (b-1)*window .. (b+1)*window - 1 centred on their mean (missing as
    0): ``centred[bb, u, m]`` (bb = b - b_first); for the window ending on day
    b*window + r, ``sums``/``means`` the centred sum and mean and ``inv_sd``
    1 / sqrt(centred sum of squares), NaN where the window holds a missing return or a
    leg that does not change (``rolling_corr_pairs``' moments, per block)."""
    span = 2 * window
    for m in numba.prange(slot_series.shape[0]):
        s = slot_series[m]
        g = slot_group[m]
        day0 = group_day0[g]
        n_days = group_days[g]
        both = group_both[g]
        values = np.empty(span)
        total = np.empty(span + 1)
        squares = np.empty(span + 1)
        missing = np.zeros(span + 1, dtype=np.int64)
        changed = np.zeros(span + 1, dtype=np.int64)
        for bb in range(group_blocks[g]):
            b = group_b_first[g] + bb
            acc = 0.0
            count = 0
            for u in range(span):
                k = (b - 1) * window + u
                v = np.nan
                if k >= 1 and k < n_days:
                    t = days[day0 + k]
                    prev = days[day0 + k - 1]
                    if not (np.isnan(level[s, t]) or np.isnan(level[s, prev])) and not (
                        max_gap >= 0 and open_prefix[both, t] - open_prefix[both, prev + 1] > max_gap
                    ):
                        v = _leg_return(
                            log_level, level, yield_row, duration, convexity, weekday_ordinal, s, prev, t
                        )
                values[u] = v
                if not np.isnan(v):
                    acc += v
                    count += 1
            centre = acc / count if count > 0 else 0.0
            # inclusive prefix sums and counts over the segment, position u at index u + 1
            total[0] = 0.0
            squares[0] = 0.0
            for u in range(span):
                v = values[u]
                c = 0.0 if np.isnan(v) else v - centre
                centred[bb, u, m] = c
                total[u + 1] = total[u] + c
                squares[u + 1] = squares[u] + c * c
                missing[u + 1] = missing[u] + (1 if np.isnan(v) else 0)
                changed[u + 1] = changed[u] + (1 if u > 0 and v != values[u - 1] else 0)
            for r in range(window):
                # the window ending at segment position window + r: positions r+1 .. window+r,
                # its window - 1 changes at positions r+2 .. window+r
                sm = total[window + r + 1] - total[r + 1]
                sums[bb, r, m] = sm
                means[bb, r, m] = sm / window
                inv = np.nan
                if (
                    missing[window + r + 1] - missing[r + 1] == 0
                    and changed[window + r + 1] - changed[r + 2] > 0
                ):
                    variance = squares[window + r + 1] - squares[r + 1] - sm * sm / window
                    if variance > 0.0:
                        inv = 1.0 / np.sqrt(variance)
                inv_sd[bb, r, m] = inv


@TwoWayKernel
def lockstep_corr(
    centred,
    sums,
    means,
    inv_sd,
    task_run,
    run_group,
    run_left,
    run_right,
    run_start,
    run_length,
    days,
    group_day0,
    group_k_start,
    group_k_stop,
    group_b_first,
    window,
    out,
    offsets,
    strides,
    cross,
):
    """Rolling Pearson correlation of every lock-step group's pairs on days
    ``group_k_start[g] <= k < group_k_stop[g]`` of their group's days, from
    ``lockstep_moments`` (one parallel call for all groups). The pairs come in runs: run
    q is the pairs run_start[q] .. run_start[q] + run_length[q] - 1 of group
    run_group[q], of slot run_left[q] with the consecutive slots from run_right[q]; pair
    p's value on row t goes to ``out[offsets[p] + t * strides[p]]``. The parallel tasks
    are consecutive runs of one group, task x the runs task_run[x] .. task_run[x + 1] - 1,
    walked day by day: a day's moments and the task's cross sums stay in cache across
    its runs, and its cells of a row are written in order. Every pair takes the same step
    on the same day, so the inner loop runs along a run: contiguous moments and sums, and
    output at one step apart where the run's cells of a row are (contiguous in the
    all-pairs store's rows).

    ``cross[p]``: the pair's centred cross sum over the window ending on the last day
    done, taken afresh at each block's first day (sum over the block's segment positions
    1 .. window) and moved one day at a time within the block (add the day entering,
    subtract the one leaving), so rounding never spans more than one block; it carries a
    block from one call to the next (calls in day order), so results do not depend on
    how the days are split into calls or tasks."""
    for x in numba.prange(task_run.shape[0] - 1):
        q_first = task_run[x]
        n_runs = task_run[x + 1] - q_first
        g = run_group[q_first]
        # each run's cells of a row at one step apart (1 in the store's rows, the
        # calendars' interleave across groups): a strided view, no index per cell
        run_step = np.ones(n_runs, dtype=np.int64)
        run_regular = np.zeros(n_runs, dtype=np.bool_)
        for v in range(n_runs):
            p0 = run_start[q_first + v]
            n = run_length[q_first + v]
            step = offsets[p0 + 1] - offsets[p0] if n > 1 else 1
            regular = step > 0
            for m in range(1, n):
                if offsets[p0 + m] != offsets[p0] + m * step or strides[p0 + m] != strides[p0]:
                    regular = False
            run_step[v] = step
            run_regular[v] = regular
        for k in range(group_k_start[g], group_k_stop[g]):
            b = k // window
            r = k - b * window
            bb = b - group_b_first[g]
            t = days[group_day0[g] + k]
            for v in range(n_runs):
                q = q_first + v
                i = run_left[q]
                j0 = run_right[q]
                p0 = run_start[q]
                n = run_length[q]
                step = run_step[v]
                regular = run_regular[v]
                run_cross = cross[p0 : p0 + n]
                si = sums[bb, r, i]
                vi = inv_sd[bb, r, i]
                mean_j = means[bb, r, j0 : j0 + n]
                inv_j = inv_sd[bb, r, j0 : j0 + n]
                first = offsets[p0] + t * strides[p0]
                if r == 0:
                    run_cross[:] = 0.0
                    for u in range(1, window + 1):
                        ci = centred[bb, u, i]
                        others = centred[bb, u, j0 : j0 + n]
                        for m in range(n):
                            run_cross[m] += ci * others[m]
                elif regular and step == 1:
                    # the store's rows: the day's move and the row's cells in one pass, over a
                    # slice without a step (compiled as contiguous, so LLVM vectorises it)
                    ei = centred[bb, window + r, i]
                    li = centred[bb, r, i]
                    entering = centred[bb, window + r, j0 : j0 + n]
                    leaving = centred[bb, r, j0 : j0 + n]
                    cells = out[first : first + n]
                    for m in range(n):
                        moved = run_cross[m] + (ei * entering[m] - li * leaving[m])
                        run_cross[m] = moved
                        cells[m] = _clipped((moved - si * mean_j[m]) * vi * inv_j[m])
                    continue
                else:
                    ei = centred[bb, window + r, i]
                    li = centred[bb, r, i]
                    entering = centred[bb, window + r, j0 : j0 + n]
                    leaving = centred[bb, r, j0 : j0 + n]
                    for m in range(n):
                        run_cross[m] += ei * entering[m] - li * leaving[m]
                if regular and step == 1:
                    cells = out[first : first + n]
                    for m in range(n):
                        cells[m] = _clipped((run_cross[m] - si * mean_j[m]) * vi * inv_j[m])
                elif regular:
                    cells = out[first : first + (n - 1) * step + 1 : step]
                    for m in range(n):
                        cells[m] = _clipped((run_cross[m] - si * mean_j[m]) * vi * inv_j[m])
                else:
                    for m in range(n):
                        out[offsets[p0 + m] + t * strides[p0 + m]] = _clipped(
                            (run_cross[m] - si * mean_j[m]) * vi * inv_j[m]
                        )


@numba.njit(cache=True, nogil=True, inline="always")
def _clipped(value):
    """``value`` clipped to [-1, 1]; NaN stays NaN."""
    if value > 1.0:
        return 1.0
    if value < -1.0:
        return -1.0
    return value


@TwoWayKernel
def fill_nan_rows(out, segment_offset, segment_length, segment_stride, rows):
    """NaN into every cell of the rows ``rows``: segment s's cells of row t are
    ``out[segment_offset[s] + t * segment_stride[s]:][:segment_length[s]]`` (a run of
    pairs whose cells of a row are side by side: a whole part of the store's rows, a
    single pair in a pair-major array), so a row's fill is a few contiguous writes that
    LLVM vectorises, not a store per cell; the rows split between the threads."""
    for x in numba.prange(rows.shape[0]):
        t = rows[x]
        for s in range(segment_offset.shape[0]):
            first = segment_offset[s] + t * segment_stride[s]
            cells = out[first : first + segment_length[s]]
            for m in range(cells.shape[0]):
                cells[m] = np.nan
