"""Robust z-scores (median and MAD), the one rule for "an unusual move" that DQ's outliers
and stress's likely data errors share."""

import numpy as np

MAD_TO_SD = 1.4826  # MAD of a normal distribution times this is its standard deviation


def robust_centre_scale(values) -> tuple[float, float] | None:
    """(median, 1.4826 x MAD) of ``values`` (finite floats), or None when the MAD is 0 (a
    series that barely moves has no scale to measure moves against)."""
    values = np.asarray(values, dtype="float64")
    median = np.median(values)
    mad = np.median(np.abs(values - median))
    if not mad > 0:
        return None
    return float(median), float(MAD_TO_SD * mad)
