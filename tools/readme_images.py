"""Regenerate the README's images in docs/img/ from a finished default run.

    python tools/readme_images.py [RUN_DIR]

RUN_DIR: a project copy in which the default offline run finished (`snakemake --cores 2
--config offline=true`); default: this checkout. The report's figures the README shows
(``FIGURES``) are copied from RUN_DIR/docs/ into this checkout's docs/img/, and
RUN_DIR/docs/dashboard.html is opened in Debian's Chromium through playwright (the
dashboard test's browser; `apt-get install chromium`) and its top 1280 x 1400 pixels,
once the heatmap and the first pair are drawn, saved as docs/img/dashboard.png.

Run it whenever a change alters one of these figures or the dashboard's first screen
(docs/development.md), then check the README's caption still says what the figure shows.
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("fig_corr_SPY_vs_DGS10.png", "fig_regimes.png", "fig_heatmap.png")
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")  # as the browser test
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 1400}


def copy_figures(run: Path, target: Path) -> list[Path]:
    """The README's report figures from ``run``/docs into ``target``; a missing one stops
    with one line naming it."""
    copied = []
    for name in FIGURES:
        source = run / "docs" / name
        if not source.is_file():
            raise SystemExit(f"{source}: not found; finish the default run in {run} first")
        shutil.copyfile(source, target / name)
        copied.append(target / name)
    return copied


def screenshot_dashboard(page_file: Path, out: Path) -> None:
    """The dashboard's first screen, drawn, as a PNG."""
    from playwright.sync_api import sync_playwright

    if not page_file.is_file():
        raise SystemExit(f"{page_file}: not found; finish the default run first")
    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM}: not found; apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(page_file.resolve().as_uri())
            page.wait_for_function("document.getElementById('heatmap').data !== undefined")
            page.wait_for_function(
                "document.getElementById('pair').data && document.getElementById('pair').data.length > 0"
            )
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main(argv: list[str]) -> None:
    run = Path(argv[0]).resolve() if argv else ROOT
    target = ROOT / "docs" / "img"
    target.mkdir(parents=True, exist_ok=True)
    for path in copy_figures(run, target):
        print(f"copied {path.relative_to(ROOT)}")
    screenshot_dashboard(run / "docs" / "dashboard.html", target / "dashboard.png")
    print(f"drew {(target / 'dashboard.png').relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
