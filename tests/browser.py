"""Headless Chromium for the dashboard's tests: Debian's ``/usr/bin/chromium`` driven by
Playwright (whose driver ships in its wheel; no browser is ever downloaded), a fresh profile
per launch, and every console message and page error of a page collected.

A missing Chromium fails the test with the command that installs it (``.ci/run`` runs it),
never a skip: the dashboard is not tested otherwise.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("ARBSCAN_ARTIFACTS", Path(__file__).parent / "artifacts"))
"""Where the tests leave their screenshots (gitignored)."""


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile, closed (and the profile removed) after."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the dashboard's browser tests need Debian's Chromium "
            "(apt-get install -y chromium; .ci/run installs it)"
        )
    with tempfile.TemporaryDirectory(prefix="arbscan-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class PageLog:
    """Every console message (type, text) and uncaught page error of one page."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append((message.type, message.text))

    def _on_error(self, error: Error) -> None:
        self.errors.append(f"{error.name}: {error.message}")

    def problems(self, *allowed: str) -> list[str]:
        """Page errors, and console errors and warnings whose text contains none of
        ``allowed``."""
        bad = [
            f"console.{kind}: {text}"
            for kind, text in self.console
            if kind in ("error", "warning") and not any(a in text for a in allowed)
        ]
        return self.errors + bad


def open_page(context: BrowserContext, url: str) -> tuple[Page, PageLog]:
    """A new page of ``context`` with its log attached from the start, at ``url``."""
    page = context.new_page()
    log = PageLog()
    log.attach(page)
    page.goto(url)
    return page, log


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of ``page`` as ``ARTIFACTS/name.png``; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
