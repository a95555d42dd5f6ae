"""What the exceedance correlations, the DCC standard errors and the valid matrices cost.

CPU seconds (``time.process_time``, best of three, warm numba cache) on the default
offline run's outputs (run ``snakemake --config offline=true`` first), and Higham's
nearest correlation matrix on pairwise matrices of growing size. The machine is shared,
so CPU seconds, not wall clock, are quoted. Writes benchmarks/exceedance_and_matrices.md.

    PYTHONPATH=src .venv/bin/python benchmarks/exceedance_and_matrices.py
"""

import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def cpu_best_of(function, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def main() -> int:
    from corrflow.analytics.correlation.valid_matrix import nearest_correlation, smallest_eigenvalue
    from corrflow.analytics.regimes import dcc as _dcc
    from corrflow.analytics.regimes.regimes import dcc_regimes, exceedance_regimes, pair_returns_of
    from corrflow.config.sections import Exceedance
    from corrflow.data.contracts import read_parquet
    from corrflow.io import schema_defaults

    clean = ROOT / "data/processed/clean.parquet"
    if not clean.exists():
        print(f"{clean} is missing: run `snakemake --config offline=true` first", file=sys.stderr)
        return 1
    levels, metadata = read_parquet(clean)
    pairs = yaml.safe_load((ROOT / "config/config.yaml").read_text())["correlation"]["pairs"]
    settings = Exceedance.from_dict(schema_defaults()["regimes"]["exceedance"])
    exceedance_regimes(levels, metadata, pairs[:1], settings)  # imports and compiled code loaded
    rows = [
        ("exceedance curves and Hong-Tu-Zhou tests, 4 pairs x up to 4 eras", cpu_best_of(
            lambda: exceedance_regimes(levels, metadata, pairs, settings))),
        ("DCC of 4 pairs with standard errors (GARCH legs, QML, sandwich)", cpu_best_of(
            lambda: dcc_regimes(levels, metadata, pairs, 500))),
    ]  # fmt: skip
    sandwich = 0.0
    for a, b in pairs:
        returns = pair_returns_of(levels, metadata, a, b)
        legs = [_dcc.garch_standardised(returns[c]) for c in returns]
        garch = [tuple(p[n] for n in ("mu", "omega", "alpha[1]", "beta[1]")) for _, p in legs]
        fit = _dcc.fit_dcc(np.column_stack([z.to_numpy() for z, _ in legs]))
        x = _dcc.SCALE * returns.to_numpy()
        sandwich += cpu_best_of(
            lambda x=x, garch=garch, fit=fit: _dcc.two_step_covariance(x, garch, fit["a"], fit["b"])
        )
    rows.append(("of which the standard errors (4 pairs, 6,001-16,006 days)", sandwich))
    rng = np.random.default_rng(0)
    for n in (40, 200, 500):
        returns = rng.standard_normal((60, n)) + 0.5 * rng.standard_normal((60, 1))
        returns[rng.uniform(size=returns.shape) < 0.2] = np.nan
        matrix = pd.DataFrame(returns).corr(min_periods=10).to_numpy()
        result = {}
        seconds = cpu_best_of(
            lambda matrix=matrix, result=result: result.update(out=nearest_correlation(matrix))
        )
        rows.append(
            (
                f"nearest correlation matrix, {n} series, 60 days, 20 % missing (smallest eigenvalue "
                f"{smallest_eigenvalue(matrix):+.2f}; {result['out'][1]} iterations)",
                seconds,
            )
        )
    lines = [
        "# Issue 31: exceedance correlations, DCC standard errors, valid matrices",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}; "
        f"{time.strftime('%Y-%m-%d')}. CPU seconds, best of three, warm numba cache, on the default "
        "offline run's clean.parquet (`benchmarks/exceedance_and_matrices.py`).",
        "",
        "| part | CPU s |",
        "|---|---|",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in rows],
        "",
    ]
    (ROOT / "benchmarks/exceedance_and_matrices.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
