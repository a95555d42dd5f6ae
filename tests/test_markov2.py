"""The two-state Markov kernel (``corrflow.analytics.regimes.markov.markov2``: scalars, every monthly refit in
one compiled call) gives bit for bit what the general k-state code gives for k = 2: fits,
smoothed and filtered probabilities and the real-time chain of refits."""

import numpy as np
import pandas as pd
import pytest

from corrflow.analytics.regimes import markov


def general_fit(y, order_by, start=None, max_iter=1000, tol=1e-9):
    params = markov._params(start) if start else markov.start_parameters(y, 2, order_by)
    floor = markov._variance_floor(y)
    result = markov.em_fit(
        y, *[np.ascontiguousarray(p, dtype="float64") for p in params], max_iter, tol, floor
    )
    return markov.MarkovFit(*result).ordered(order_by)


def same(a, b) -> bool:
    return np.asarray(a).tobytes() == np.asarray(b).tobytes()


def same_fit(a, b) -> bool:
    fields = ("mu", "sigma2", "transition", "initial")
    return all(same(getattr(a, f), getattr(b, f)) for f in fields) and a.loglik == b.loglik


def cases():
    rng = np.random.default_rng(42)
    for trial in range(12):
        n = int(rng.integers(300, 1500))
        y = rng.normal(0, 1, n) * rng.choice([1e-3, 1, 50])
        if trial % 4 == 1:
            y[rng.integers(0, n, 3)] = 1e6  # outliers: densities underflow to 0
        if trial % 4 == 2:
            y = np.round(y, 1)  # ties
        if trial % 4 == 3:
            y[: n // 2] *= 20  # a calm and a turbulent state
        yield trial, np.ascontiguousarray(y), "variance" if trial % 2 else "mean"


@pytest.mark.parametrize("trial, y, order_by", list(cases()))
def test_two_state_kernel_equals_the_general_code(trial, y, order_by):
    for max_iter in (1, 5, 1000):
        ours = markov.fit(y, 2, order_by, max_iter=max_iter)
        reference = general_fit(y, order_by, max_iter=max_iter)
        assert same_fit(ours, reference), (trial, max_iter)
    filtered, predicted, _ = markov.hamilton_filter(y, ours.mu, ours.sigma2, ours.transition, ours.initial)
    assert same(markov.filtered_probabilities(y, ours), filtered)
    assert same(
        markov.smoothed_probabilities(y, ours), markov.kim_smoother(filtered, predicted, ours.transition)[0]
    )
    dates = pd.bdate_range("2001-01-01", periods=len(y))
    probabilities, fits = markov.realtime_probabilities(y, dates, 2, order_by, "ME", 250, 50)
    refits = markov.refit_positions(dates, "ME", 250)
    previous, expected = None, np.full((len(y), 2), np.nan)
    stops = np.r_[refits[1:], len(y)]
    for k, (position, stop) in enumerate(zip(refits, stops, strict=True)):
        window = y[: position + 1]
        previous = general_fit(window, order_by, previous, max_iter=50 if previous else 1000)
        assert same_fit(fits[k], previous), (trial, k)
        part = markov.hamilton_filter(
            y[:stop], previous.mu, previous.sigma2, previous.transition, previous.initial
        )
        expected[position:stop] = part[0][position:stop]
    assert same(probabilities, expected)


def test_the_kernel_is_compiled_once_for_read_only_and_writable_series():
    """pandas hands the step read-only arrays, numpy writable ones; numba types them apart
    and compiled the two-state kernel (~1.5 s on a fresh checkout) once for each. The
    wrapper passes a writable array always, with the same numbers."""
    y = np.random.default_rng(9).normal(0, 1, 400)
    frozen = y.copy()
    frozen.flags.writeable = False
    assert same_fit(markov.fit(frozen, 2, "mean"), markov.fit(y, 2, "mean"))
    assert same(
        markov.smoothed_probabilities(frozen, markov.fit(y, 2, "mean")),
        markov.smoothed_probabilities(y, markov.fit(y, 2, "mean")),
    )
    assert len(markov.markov2.signatures) == 1
