"""The machine's Chromium through Playwright, and axe-core accessibility checks.

Browser tests need Debian's chromium (/usr/bin/chromium; `.ci/run` installs it). Without it
they skip with a message saying how to enable them, except where FOLLOWUP_REQUIRE_BROWSER is
set (CI), where a missing browser fails."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("FOLLOWUP_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> None:
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    message = (
        f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) "
        "or set FOLLOWUP_CHROMIUM to run the browser tests"
    )
    if os.environ.get("FOLLOWUP_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def browser_page(**context_options) -> Iterator:
    """A fresh page in headless Chromium."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = browser.new_context(**context_options)
            yield context.new_page()
        finally:
            browser.close()


def serious_violations(page) -> list[dict]:
    """axe-core violations of impact serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
