"""The report in a real headless Chromium (Debian's package, driven by Playwright).

Checks what only a browser can: no console errors, every image decoded
(naturalWidth > 0), nothing wider than the page, the sort script works, and a
run's page renders its SVG charts. Skips, saying why, where Playwright or a
system Chromium is missing (``.ci/run`` installs both).
"""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import DATA

from suite.report.build import build_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(pip install -r requirements-test.txt)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium: apt-get install "
                                "chromium (Playwright's own browser download needs the internet)")


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser") / "res"
    shutil.copytree(DATA / "example_results", out)
    index = build_report(out, json.loads((out / "suite.json").read_text()))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
                else errors.append(f"network request {r.url}"))
        yield page, index, errors
        browser.close()


def test_index_loads_without_errors_and_every_image_decodes(browser_page):
    page, index, errors = browser_page
    page.goto(index.as_uri(), wait_until="load")
    images = page.evaluate("() => Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(images) >= 20
    assert all(done and width > 0 for done, width in images), images
    assert errors == []


def test_nothing_is_wider_than_the_page(browser_page):
    page, index, errors = browser_page
    page.goto(index.as_uri(), wait_until="load")
    widths = page.evaluate("""() => ({
        page: document.documentElement.clientWidth,
        scroll: document.documentElement.scrollWidth,
        figures: Array.from(document.querySelectorAll('figure img'))
                      .map(i => i.getBoundingClientRect().right)})""")
    assert widths["scroll"] <= widths["page"], widths
    assert max(widths["figures"]) <= widths["page"], widths
    assert errors == []


def test_clicking_a_header_sorts_the_leaderboard(browser_page):
    page, index, errors = browser_page
    page.goto(index.as_uri(), wait_until="load")
    column = "#leaderboard-table tbody tr td:nth-child(7)"

    def values():
        return [float(v) for v in page.eval_on_selector_all(column, "cs => cs.map(c => c.dataset.v)") if v]

    page.click("#leaderboard-table thead th:nth-child(7)")
    assert values() == sorted(values()) and len(values()) >= 5
    page.click("#leaderboard-table thead th:nth-child(7)")
    assert values() == sorted(values(), reverse=True)
    assert errors == []


def test_a_run_page_renders_its_charts(browser_page):
    page, index, errors = browser_page
    page.goto(index.as_uri(), wait_until="load")
    page.click("a[href^='detail/']")
    page.wait_for_load_state("load")
    assert "detail/" in page.url
    charts = page.evaluate("() => Array.from(document.querySelectorAll('svg.chart'))"
                           ".map(s => s.getBoundingClientRect().width)")
    assert len(charts) >= 3 and all(w > 100 for w in charts)
    # the pages share detail/style.css: line widths and chart sizes come from it
    assert page.evaluate("() => getComputedStyle(document.querySelector('svg.chart .ln')).strokeWidth") \
        == "3px"
    assert errors == []
