"""The dashboard end to end, in headless Chromium: the local venue emulator (in this process,
on a still market, so only the dislocations a test plants make opportunities) -> ``run.py
live --web`` (a real process: its feeds, engine and event server, which also serves the page)
-> the page.

Each figure the page shows is checked against the same run's NDJSON stream (``--json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import BrowserContext, Page

from emulator import Emulator, EmulatorConfig, MarketConfig, VenueProfile
from emulator.market import Dislocation
from tests.browser import PageLog, chromium, open_page, screenshot

ROOT = Path(__file__).resolve().parent.parent
VENUES = ("binance", "okx")
SYMBOLS = ("BTC/USDT", "ETH/USDT")
STILL = VenueProfile(lag_steps=0, noise_bps=0.0, spread_bps=1.0)
WAIT_MS = 15_000
TOKEN = "dashboard-test-token-0123"
RECONNECTING = "WebSocket connection to"
"""Chromium's console error for each refused reconnection attempt while the server is down."""


class EmulatorThread:
    """The emulator on its own event loop in a thread; :meth:`dislocate` plants a move."""

    def __init__(self) -> None:
        market = MarketConfig(
            venues=VENUES,
            symbols=SYMBOLS,
            vol_bps=0.0,
            dislocations_per_min=0.0,
            profiles=dict.fromkeys(VENUES, STILL),
        )
        self.emulator = Emulator(EmulatorConfig(market=market))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def __enter__(self) -> EmulatorThread:
        self.thread.start()
        self.call(self.emulator.__aenter__())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.emulator.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def dislocate(self, symbol: str, venue: str, bps: float, ms: int) -> Dislocation:
        async def plant() -> Dislocation:
            return self.emulator.model.add_dislocation(symbol, venue, bps, ms)

        found: Dislocation = self.call(plant())
        return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Scan:
    """``run.py live --web 127.0.0.1:PORT --json`` against the emulator; restartable on the
    same port. Its events (stdout) and stderr go to files in ``folder``."""

    def __init__(self, emu: Emulator, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.config = folder / "arbscan.toml"
        urls = "".join(
            f'[urls.{v}]\nws = "{emu.ws_url(v)}"\nrest = "{emu.rest_url(v)}"\n' for v in VENUES
        )
        self.config.write_text(f"[feeds]\nstats_interval_s = 0.5\n{urls}")
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, *options: str) -> None:
        self.runs += 1
        argv = [sys.executable, str(ROOT / "run.py"), "live", "--json", "--web",
                f"127.0.0.1:{self.port}", "--venues", ",".join(VENUES), "--symbols",
                ",".join(SYMBOLS), "--config", str(self.config), *options]  # fmt: skip
        with (
            self.events_file.open("wb") as out,
            (self.folder / f"err{self.runs}").open("wb") as err,
        ):
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, "PYTHONPATH": str(ROOT)}
            )
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "the dashboard's server never listened"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)

    @property
    def events_file(self) -> Path:
        return self.folder / f"events{self.runs}.ndjson"

    def stderr(self) -> str:
        return (self.folder / f"err{self.runs}").read_text()

    def events(self) -> list[dict[str, Any]]:
        lines = self.events_file.read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.endswith(b"}")]

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C would: the run ends cleanly (exit 0)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(15) == 0, self.stderr()


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as running:
        yield running


@pytest.fixture(scope="module")
def scan(emu: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scan]:
    run = Scan(emu.emulator, tmp_path_factory.mktemp("scan"))
    run.start()
    try:
        yield run
    finally:
        assert run.proc is not None
        run.proc.kill()
        run.proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium() as context:
        yield context


def dashboard(browser: BrowserContext, scan: Scan) -> tuple[Page, PageLog]:
    """The page, connected, with every venue live."""
    page, log = open_page(browser, scan.url)
    all_live(page)
    return page, log


def all_live(page: Page) -> None:
    """Wait until the page is connected and every venue shows live."""
    page.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
    for venue in VENUES:
        live = f'#venues tr[data-venue="{venue}"][data-state="live"]'
        page.wait_for_selector(live, timeout=WAIT_MS)


def no_opportunity_left(page: Page) -> None:
    """Wait until the dislocations are over: no open opportunity (none filtered out)."""
    page.wait_for_function(
        "window.arbscan.store.open.size === 0 && !document.querySelector('#open tbody tr')",
        timeout=WAIT_MS,
    )


def row(table: str, symbol: str, buy: str, sell: str) -> str:
    return f'#{table} tbody tr[data-symbol="{symbol}"][data-buy="{buy}"][data-sell="{sell}"]'


def stream_event(scan: Scan, kind: str, oid: str) -> dict[str, Any]:
    """The ``kind`` event of opportunity ``oid`` in the run's stream (waits for its flush)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [e for e in scan.events() if e["type"] == kind and e.get("id") == oid]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event for {oid} in the stream")


def test_a_planted_dislocation_opens_then_closes_on_the_page(
    emu: EmulatorThread, scan: Scan, browser: BrowserContext
) -> None:
    page, log = dashboard(browser, scan)
    assert page.eval_on_selector_all("#venues tbody tr", "rs => rs.map(r => r.dataset.venue)") == [
        *VENUES
    ]
    assert page.eval_on_selector_all("#open tbody tr", "rs => rs.length") == 0
    # okx's BTC book 40 bps up for 3 s: buy on binance, sell on okx
    emu.dislocate("BTC/USDT", "okx", 40.0, 3000)
    opened = page.wait_for_selector(row("open", "BTC/USDT", "binance", "okx"), timeout=WAIT_MS)
    assert opened is not None
    oid = opened.get_attribute("data-id")
    assert oid is not None
    assert stream_event(scan, "opened", oid)["symbol"] == "BTC/USDT"
    opened.click()  # the chart follows it
    page.wait_for_function(
        f"document.getElementById('chart-title').textContent.startsWith('#{oid} BTC/USDT')"
    )
    assert page.inner_text("#heatmap td[data-buy=binance][data-sell=okx]") != ""
    screenshot(page, "dashboard-open")
    closed = page.wait_for_selector(f'#closed tbody tr[data-id="{oid}"]', timeout=WAIT_MS)
    assert closed is not None
    event = stream_event(scan, "closed", oid)
    cells = closed.eval_on_selector_all("td", "tds => tds.map(td => td.textContent)")
    assert cells[:4] == [oid, "BTC/USDT", "binance → okx", "spread_closed"]
    assert cells[5] == f"{event['peak_net_bps']:.2f}"
    assert event["reason"] == "spread_closed"
    no_opportunity_left(page)
    assert page.inner_text("#heatmap td[data-buy=binance][data-sell=okx]") == ""
    page.close()
    assert log.problems() == []


def test_the_filters_hide_what_they_should(
    emu: EmulatorThread, scan: Scan, browser: BrowserContext
) -> None:
    page, log = dashboard(browser, scan)
    emu.dislocate("BTC/USDT", "okx", 40.0, 4000)  # buy binance, sell okx
    emu.dislocate("ETH/USDT", "binance", 70.0, 4000)  # buy okx, sell binance
    page.wait_for_selector(row("open", "BTC/USDT", "binance", "okx"), timeout=WAIT_MS)
    page.wait_for_selector(row("open", "ETH/USDT", "okx", "binance"), timeout=WAIT_MS)
    shown = "#open tbody tr"
    symbols = f"Array.from(document.querySelectorAll('{shown}'), r => r.dataset.symbol).join()"

    page.select_option("#f-symbol", "ETH/USDT")
    page.wait_for_function(f"{symbols} === 'ETH/USDT'")
    assert page.inner_text("#open-count") == "1 of 2"
    page.select_option("#f-symbol", "")
    page.wait_for_function(f"{symbols}.split(',').length === 2")

    # a minimum between the two net bps leaves the better one only
    low, high = sorted(
        float(page.inner_text(f"{row('open', s, b, v)} td.bps"))
        for s, b, v in (("BTC/USDT", "binance", "okx"), ("ETH/USDT", "okx", "binance"))
    )
    assert high - low > 2.0, (low, high)  # 70 bps against 40: well apart
    page.fill("#f-min", f"{(low + high) / 2:.2f}")
    page.wait_for_function(f"{symbols}.split(',').length === 1")
    best = page.eval_on_selector(
        shown, "r => [r.dataset.symbol, r.querySelector('.bps').textContent]"
    )
    assert best[0] == "ETH/USDT" and float(best[1]) > (low + high) / 2
    page.fill("#f-min", "1000")
    page.wait_for_function(f"{symbols} === ''")
    assert page.is_visible("#open-empty")
    page.fill("#f-min", "")
    no_opportunity_left(page)
    page.close()
    assert log.problems() == []


def test_the_page_recovers_after_the_server_restarts(
    emu: EmulatorThread, scan: Scan, browser: BrowserContext
) -> None:
    page, log = dashboard(browser, scan)
    scan.stop()
    page.wait_for_selector('#conn[data-state="reconnecting"]', timeout=WAIT_MS)
    for venue in VENUES:  # nothing is known to be live without the server
        page.wait_for_selector(f'#venues tr[data-venue="{venue}"][data-state="unknown"]')
    scan.start()
    all_live(page)
    emu.dislocate("BTC/USDT", "binance", 40.0, 3000)  # buy okx, sell binance
    found = page.wait_for_selector(row("open", "BTC/USDT", "okx", "binance"), timeout=WAIT_MS)
    assert found is not None
    oid = found.get_attribute("data-id")
    assert oid is not None and stream_event(scan, "opened", oid)["buy_venue"] == "okx"
    page.close()
    assert log.problems(RECONNECTING) == []


def test_the_page_passes_its_token_on(
    emu: EmulatorThread, scan: Scan, browser: BrowserContext
) -> None:
    scan.stop()
    scan.start("--serve-token", TOKEN)
    page, log = open_page(browser, f"{scan.url}?token={TOKEN}")  # /ws?token=... from the page
    all_live(page)
    refused, refused_log = open_page(browser, scan.url)  # no token: the handshake gets 401
    refused.wait_for_selector('#conn[data-state="reconnecting"]', timeout=WAIT_MS)
    assert refused.eval_on_selector_all("#venues tbody tr", "rs => rs.length") == 0
    refused_by = [text for kind, text in refused_log.console if kind == "error"]
    assert refused_by and all("HTTP Authentication failed" in text for text in refused_by)
    assert page.get_attribute("#conn", "data-state") == "live"
    refused.close()
    page.close()
    assert log.problems() == []
