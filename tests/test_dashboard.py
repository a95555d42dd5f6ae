"""The interactive dashboard (task F): its numbers, one self-contained file, and a real browser.

The browser test drives Debian's Chromium (/usr/bin/chromium, `apt-get install chromium`;
`make test` installs it when missing) through playwright. Without the browser it fails
when CI=true and skips with a message otherwise.
"""

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build_page(outputs=None, exclude=()):
    from dashboard import build_dashboard
    from report_fixtures import synthetic_outputs

    o = outputs or synthetic_outputs()
    return build_dashboard(
        o["clean_meta"],
        o["levels"],
        o["corr"],
        o["regimes"],
        o["episodes"],
        o["regimes_meta"],
        o["pairs"],
        60,
        list(exclude),
    )


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dashboard") / "dashboard.html"
    path.write_text(build_page(), encoding="utf-8")
    return path


def test_absorption_ratio_is_the_first_eigenvalue_share():
    from dashboard import absorption_ratio

    block = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.0], [0.0, 0.0, 1.0]])
    gappy = block.copy()
    gappy[0, 2] = gappy[2, 0] = np.nan  # series 0 or 2 must go; the one with most gaps (tie: first) goes
    shares, counts = absorption_ratio(np.stack([block, gappy, np.full((3, 3), np.nan)]))
    assert shares[0] == pytest.approx(1.8 / 3) and counts[0] == 3
    assert shares[1] == pytest.approx(1.0 / 2) and counts[1] == 2
    assert np.isnan(shares[2]) and counts[2] == 0


def test_clustered_order_puts_correlated_series_together():
    from dashboard import clustered_order

    names = ["x1", "y1", "x2", "y2", "x3"]  # two groups, interleaved
    full = pd.DataFrame(
        [[1.0 if a == b else (0.9 if a[0] == b[0] else -0.1) for b in names] for a in names],
        index=names,
        columns=names,
    )
    order = clustered_order(full)
    assert sorted(order) == sorted(names)
    letters = "".join(name[0] for name in order)
    assert letters in ("xxxyy", "yyxxx"), order  # each group one contiguous block


def test_month_end_matrices_take_each_pairs_last_value_in_the_month():
    from dashboard import month_end_matrices

    days = pd.bdate_range("2020-01-01", "2020-03-31")
    ab = pd.Series(np.linspace(-1, 1, len(days)), index=days)
    ac = ab.loc[:"2020-02-10"]  # C ends in February: March has no A-C value
    months, cube = month_end_matrices({("A", "B"): ab, ("A", "C"): ac}, ["A", "B", "C"])
    assert [m.strftime("%Y-%m") for m in months] == ["2020-01", "2020-02", "2020-03"]
    assert cube[0, 0, 1] == cube[0, 1, 0] == ab.loc["2020-01-31"]
    assert cube[1, 0, 2] == ac.iloc[-1] and np.isnan(cube[2, 0, 2]) and np.isnan(cube[0, 1, 2])
    assert (cube[:, [0, 1, 2], [0, 1, 2]] == 1).all()


def test_page_is_self_contained_and_deterministic():
    first, second = build_page(), build_page()
    assert first == second
    assert not re.search(r"<script[^>]+src=", first)  # plotly.js inline, nothing fetched
    assert not re.search(r"<link[^>]+href=\"http", first)
    assert "plotly.js v" in first  # the library's own banner: inlined
    for div in ('id="heatmap"', 'id="pair"', 'id="absorption"', 'id="date-slider"'):
        assert div in first
    assert "**" not in first.split("<h1>")[1].split("</p>")[0]  # the headline's bold is HTML, not markdown


def test_page_data_follow_the_outputs():
    import json

    from report_fixtures import synthetic_outputs

    o = synthetic_outputs()
    page = build_page(o)
    data = json.loads(
        re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', page).group(1)
    )
    assert sorted(data["order"]) == ["A", "B", "C"]  # D has no data: named under the heatmap
    assert "Not in the heatmap: D (no data at any ingest level)" in page
    ab = data["pairs"]["A|B"]
    values = o["corr"]["A:B:60"].dropna()
    assert ab["dates"][-1] == "2018-12-28" and ab["corr"][-1] == round(values.iloc[-1], 3)
    assert ab["source"].startswith("configured pair") and set(filter(None, ab["sign"])) <= {-1, 1}
    last = data["frames"][-1]
    i, j = data["order"].index("A"), data["order"].index("B")
    assert last[i][j] == round(values.iloc[-1], 3)  # December's last A-B value is the as-of day's
    assert data["months"][-1] == "2018-12" and data["first"] == "A|B"
    assert [e["name"] for e in data["episodes"]] == ["Oil slump 2016", "Volmageddon 2018", "drawdown"]


def test_page_excludes_configured_series_and_says_why():
    page = build_page(exclude=["C"])
    assert "C (excluded by config report.heatmap_exclude)" in page


def chromium_or_skip():
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} not found: install it with `apt-get install -y chromium` (make test does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI must run the browser test, it never skips there")
    pytest.skip(message)


def test_dashboard_in_a_real_browser(page_file):
    """Headless Chromium: no console errors, no network, the slider changes the heatmap,
    and a click on a cell shows that pair."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    problems, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "request",
                lambda r: (
                    requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None
                ),
            )
            page.goto(page_file.as_uri())
            page.wait_for_function("document.getElementById('heatmap').data !== undefined")
            page.wait_for_function(
                "document.getElementById('pair').data && document.getElementById('pair').data.length > 0"
            )
            z_latest = page.evaluate("document.getElementById('heatmap').data[0].z")
            label_latest = page.inner_text("#date-label")

            page.focus("#date-slider")
            page.keyboard.press("Home")  # a real key press on the range input: to the first month
            page.wait_for_function(f"document.getElementById('date-label').textContent !== {label_latest!r}")
            z_first = page.evaluate("document.getElementById('heatmap').data[0].z")
            title = page.evaluate("document.getElementById('heatmap').layout.title.text")
            first_month = page.inner_text("#date-label")
            assert z_first != z_latest and first_month < label_latest and first_month in title

            page.keyboard.press("End")  # back to the latest month
            page.wait_for_function(f"document.getElementById('date-label').textContent === {label_latest!r}")
            assert page.evaluate("document.getElementById('heatmap').data[0].z") == z_latest
            for _ in range(3):  # C is stale: its last values are three months back
                page.keyboard.press("ArrowLeft")
            page.wait_for_function("document.getElementById('date-label').textContent === '2018-09'")
            before = page.inner_text("#pair-title")
            # click the cell (row C, column B) at its pixel position
            target = page.evaluate("""() => {
                    const gd = document.getElementById('heatmap');
                    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                    const order = gd.data[0].x, box = gd.getBoundingClientRect();
                    const i = order.indexOf('C'), j = order.indexOf('B');
                    return {x: box.left + xa._offset + xa.l2p(j), y: box.top + ya._offset + ya.l2p(i)};
                }""")
            page.mouse.click(target["x"], target["y"])
            page.wait_for_function(f"document.getElementById('pair-title').textContent !== {before!r}")
            shown = page.inner_text("#pair-title")
            traces = page.evaluate("document.getElementById('pair').data.map(t => t.name || '')")
            assert shown.startswith(("B vs C", "C vs B")), shown
            assert "60-day correlation" in traces
            page.screenshot(path=str(page_file.with_suffix(".png")), full_page=True)
        finally:
            browser.close()
    assert problems == [], problems
    assert requests == [], requests


@pytest.mark.e2e
def test_workflow_builds_the_dashboard(workflow_run):
    workdir, _ = workflow_run
    page = (workdir / "docs/dashboard.html").read_text(encoding="utf-8")
    assert 'id="heatmap"' in page and not re.search(r"<script[^>]+src=", page)
    headline = (workdir / "docs/report.md").read_text().splitlines()[2]
    through = headline.split("data through ")[1][:10]
    assert f"data through {through}" in page  # the same headline as the report


def test_dashboard_script_has_a_cli():
    import subprocess
    import sys

    from conftest import SCRIPTS

    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "dashboard.py"), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "--html" in result.stdout, result.stderr


def test_a_large_universe_keeps_the_dashboard_to_the_configured_pairs(monkeypatch):
    import dashboard

    monkeypatch.setattr(dashboard, "MAX_SERIES", 2)
    page = build_page()
    assert "C (the dashboard shows at most 2 series (those of the configured pairs))" in page
