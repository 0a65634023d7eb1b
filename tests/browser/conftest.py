"""Chromium for the browser tier: one browser for the session, a fresh page per test.

A page whose test failed is saved as ``build/browser/failed-<test>.png`` as well, so a
red CI run shows what the browser saw. A page asks nothing of any address but
127.0.0.1: such a request is aborted, and fails the test that caused it.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.ui import CHROMIUM, SHOTS, VIEWPORT


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found: `make chromium` installs Debian's chromium")
    shutil.rmtree(SHOTS, ignore_errors=True)  # only this session's screenshots
    SHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


ELSEWHERE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])[a-z]+://")


@pytest.fixture
def page(chromium, request):
    """A new browser context (no cookies: signed out) and its page."""
    context = chromium.new_context(viewport=VIEWPORT)
    elsewhere: list[str] = []

    def refuse(route):
        elsewhere.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(ELSEWHERE, refuse)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        page.screenshot(path=SHOTS / f"failed-{request.node.name}.png", full_page=True)
    context.close()
    assert not elsewhere, f"the page asked for addresses beyond 127.0.0.1: {elsewhere}"
