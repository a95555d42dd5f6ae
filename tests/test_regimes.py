"""Regimes (task E): z-scores against an independent loop, labels, CLI."""

import numpy as np
import pandas as pd

from regimes import trailing_zscore, zscore_labels, zscore_regimes


def test_trailing_zscore_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    corr = pd.Series(np.tanh(np.cumsum(rng.normal(0, 0.05, 400))), index=pd.bdate_range("2001-01-01", periods=400))
    z = trailing_zscore(corr, 50)
    for t in [50, 123, 399]:
        history = corr.iloc[t - 50 : t].to_numpy()
        expected = (corr.iloc[t] - history.mean()) / history.std(ddof=1)
        assert abs(z.iloc[t] - expected) < 1e-12
    assert z.iloc[:50].isna().all()


def test_labels_by_threshold_and_missing_stays_missing():
    z = pd.Series([-2.0, -1.5, 0.0, 1.49, 1.5, np.nan])
    labels = zscore_labels(z, 1.5)
    assert labels.iloc[:5].tolist() == ["hedge", "hedge", "neutral", "neutral", "co-move"]
    assert pd.isna(labels.iloc[5])


def test_zscore_regimes_columns():
    corr = pd.DataFrame({"A:B:60": np.linspace(-0.5, 0.5, 300)}, index=pd.bdate_range("2001-01-01", periods=300))
    regimes = zscore_regimes(corr, 100, 1.5)
    assert list(regimes.columns) == ["z:A:B:60", "regime:A:B:60"]
    assert regimes["regime:A:B:60"].dropna().eq("co-move").all()  # a steady rise is always above its past
