"""Playwright for Python driving Debian's Chromium (headless) against pytest-django's live server on loopback.
Screenshots of the key screens go to var/screenshots/ (kept by a CI run; README shows two). Without Chromium the
tests fail with the command that installs it (`make install` installs it where apt-get can be run)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "bench-pass-4821"  # noqa: S105 (a test user's, on a test database)


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str | None:
    return os.environ.get("REFURB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser(monkeypatch):
    """Chromium for one test. Started after the test's database fixtures and stopped before their teardown: while
    it runs, Playwright's sync API keeps an event loop in this thread, and Django refuses ORM calls from such a
    thread unless told that they are synchronous (DJANGO_ALLOW_ASYNC_UNSAFE, set for this test alone, so that no
    process the suite starts later inherits it)."""
    path = chromium_path()
    if path is None:  # a failure, never a skip: the journeys are part of the suite (make install installs it)
        pytest.fail("Chromium is not installed: apt-get install chromium fonts-dejavu-core (or set REFURB_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser, live_server):
    """open_page(user=None, width=1280, height=800): a fresh browser context on the live server, signed in as
    `user` through the admin's login form (the way a person signs in)."""
    contexts = []

    def make(user=None, width: int = 1280, height: int = 800, next_path: str = "/bench/"):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            user.set_password(PASSWORD)
            user.save()
            page.goto(f"/admin/login/?next={next_path}")
            page.fill("#id_username", user.get_username())
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"**{next_path}")
        return page

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
