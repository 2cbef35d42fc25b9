"""report.html in a real browser: headless Chromium (Debian's `chromium`, driven by
playwright) opens the page of a digits build and of a spiral build from file:// and
finds no request leaving the file, no console error, every image decoded and the
warnings section; a screenshot is kept in the test's folder.

Skipped, with the reason, where Chromium is not installed, except in CI (CI=true), where
`.ci/run` installs it and the test must run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import MODELS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but Chromium is missing: .ci/run installs Debian's chromium")
    pytestmark = pytest.mark.skip(reason="Chromium is not installed (apt-get install chromium)")


def open_in_chromium(page_path: Path, screenshot: Path) -> dict:
    """Load ``page_path`` from file:// and report what the browser saw."""
    from playwright.sync_api import sync_playwright

    requests, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.evaluate("Array.from(document.images).map(i => "
                                   "[i.alt, i.complete, i.naturalWidth])")
            warnings = page.locator("#warnings").count()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"requests": requests, "errors": errors, "images": images, "warnings": warnings}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["digits", "spiral-two-layer"])
def test_the_report_loads_offline_with_every_image(cli, tmp_path, model: str) -> None:
    out = tmp_path / "out"
    result = cli("build", MODELS / f"{model}.yaml", "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    page = out / "report.html"
    assert page.is_file() and list((out / "figures").glob("*.png"))
    seen = open_in_chromium(page, tmp_path / "screenshot.png")
    assert seen["requests"] == [page.as_uri()], seen["requests"]  # nothing else was fetched
    assert seen["errors"] == []
    assert len(seen["images"]) >= 4
    assert all(complete and width > 0 for _, complete, width in seen["images"]), seen["images"]
    assert seen["warnings"] == 1
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_sweep_page_loads_offline_with_every_image(cli, tmp_path) -> None:
    """sweep.html of the capacity grid: the nine trials, their figures, nothing fetched."""
    out = tmp_path / "sweep"
    result = cli("sweep", MODELS / "capacity-sweep.yaml", "--workers", "2", "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    page = out / "sweep.html"
    seen = open_in_chromium(page, tmp_path / "screenshot.png")
    assert seen["requests"] == [page.as_uri()], seen["requests"]  # nothing else was fetched
    assert seen["errors"] == []
    slugs = {alt for alt, _, _ in seen["images"]}
    assert len(seen["images"]) >= 5, slugs
    assert all(complete and width > 0 for _, complete, width in seen["images"]), seen["images"]
    assert page.read_text().count("<tr>") == 10  # the header and nine trials
