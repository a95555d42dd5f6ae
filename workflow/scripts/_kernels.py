"""Compiled inner loops (numba), kept in their own module so that numba's on-disk cache
(``cache=True``) has a stable file to key on; Snakemake runs each rule's script from a
temporary copy, which would otherwise recompile every run."""

import numba
import numpy as np

CHUNK = 64  # pairs per parallel task


@numba.njit(cache=True, nogil=True, parallel=True)
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
