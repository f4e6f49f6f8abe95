"""The console renders the venue table, live opportunities, closed ones and status to text,
within the terminal's width and height."""

from __future__ import annotations

from rich.console import Console

from scanner.console import ConsoleModel, LiveConsole, Status, VenueHealth, render

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def _opp(kind: str, oid: str, ts: int, net_bps: float, **extra: object) -> dict[str, object]:
    event: dict[str, object] = {
        "schema": 1,
        "type": kind,
        "id": oid,
        "ts": ts,
        "symbol": "BTC/USDT",
        "buy_venue": "okx",
        "sell_venue": "binance",
        "buy_price": 100.0,
        "sell_price": 101.0,
        "size": 1.5,
        "buy_vwap": 100.0,
        "sell_vwap": 101.0,
        "cost": 150.15,
        "proceeds": 151.3485,
        "profit": 1.1985,
        "net_bps": net_bps,
        "gross_bps": 100.0,
        "buy_fee_bps": 10.0,
        "sell_fee_bps": 10.0,
        "buy_age_ms": 5.0,
        "sell_age_ms": 12.0,
    }
    event.update(extra)
    return event


def _text(model: ConsoleModel, now_ns: int) -> str:
    console = Console(width=80, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    health = [
        VenueHealth("binance", msgs_per_s=812.0, latency_ms=3.0, book_age_ms=40.0, resyncs=1),
        VenueHealth("okx", msgs_per_s=95.4, book_age_ms=120.0, reconnects=2, drops=3),
    ]
    console.print(render(model, health, Status(61.0, 2.5, 7.25, 12345), now_ns))
    text = console.export_text()
    console.file.close()
    return text


def test_console_shows_health_open_closed_and_status() -> None:
    model = ConsoleModel()
    model.on_event(
        {
            "schema": 1,
            "type": "venue",
            "venue": "binance",
            "state": "live",
            "reason": None,
            "ts": T0,
        }
    )
    model.on_event(
        {
            "schema": 1,
            "type": "venue",
            "venue": "okx",
            "state": "resyncing",
            "reason": "desynced",
            "ts": T0,
        }
    )
    model.on_event(_opp("opened", "1", T0, 9.87))
    model.on_event(_opp("opened", "2", T0 + 10 * MS, 14.5, symbol="ETH/USDT"))
    model.on_event(_opp("updated", "1", T0 + 500 * MS, 11.25))
    model.on_event(_opp("opened", "3", T0, 6.0, symbol="SOL/USDT"))
    model.on_event(
        _opp(
            "closed",
            "3",
            T0 + 900 * MS,
            1.5,
            symbol="SOL/USDT",
            reason="spread_closed",
            duration_ms=900.0,
            peak_net_bps=8.5,
            peak_profit=2.25,
        )
    )
    text = _text(model, T0 + 1000 * MS)
    lines = [line.strip() for line in text.splitlines()]
    assert all(len(line) <= 80 for line in lines)
    # venue table: state with its reason, rates, latency, ages and counters
    assert any(
        line.split() == ["binance", "live", "812", "3ms", "40ms", "1", "0", "0"] for line in lines
    )
    assert any(
        line.split() == ["okx", "resyncing:desynced", "95", "-", "120ms", "0", "2", "3"]
        for line in lines
    )
    # open opportunities sorted by net bps: ETH (14.5) before BTC (11.25); SOL is closed
    assert "open opportunities (2)" in text
    eth = next(i for i, line in enumerate(lines) if line.startswith("ETH/USDT"))
    btc = next(i for i, line in enumerate(lines) if line.startswith("BTC/USDT"))
    assert eth < btc
    # BTC row: updated at +500ms, now +1000ms -> leg ages 5+500 / 12+500; open since T0 -> 1.0s
    assert lines[btc].split() == [
        "BTC/USDT",
        "okx",
        "→",
        "binance",
        "1.5",
        "11.2",
        "1.20",
        "505ms/512ms",
        "1.0s",
    ]
    sol = next(line for line in lines if line.startswith("SOL/USDT"))
    assert sol.split() == [
        "SOL/USDT",
        "okx",
        "→",
        "binance",
        "spread_closed",
        "900ms",
        "8.5",
        "2.25",
    ]
    assert "up 61s · 2.5 events/s · engine 7.2 µs/update · 12345 updates" in text


def test_closed_list_is_bounded_and_newest_first() -> None:
    model = ConsoleModel(closed_kept=2)
    for i in range(3):
        model.on_event(_opp("opened", str(i), T0, 9.0, symbol=f"C{i}/USDT"))
        model.on_event(
            _opp(
                "closed",
                str(i),
                T0 + i * MS,
                1.0,
                reason="stale",
                duration_ms=float(i),
                peak_net_bps=9.0,
                peak_profit=1.0,
            )
        )
    assert [e["id"] for e in model.closed] == ["2", "1"]
    assert model.open == {} and model.opened_at == {}


ELEVEN = (
    "binance", "binanceus", "bitfinex", "bitstamp", "bybit", "coinbase",
    "gate", "htx", "kraken", "kucoin", "okx",
)  # fmt: skip
STATES = [
    ("live", None),
    ("resyncing", "crossed_book"),
    ("connecting", "disconnected"),
    ("stale", None),
    ("down", "disconnected"),
    ("syncing", None),
    ("resyncing", "desynced"),
    ("live", None),
    ("stale", "stale"),
    ("live", None),
    ("live", None),
]


def test_eleven_venues_fit_80_columns() -> None:
    model = ConsoleModel()
    for venue, (state, reason) in zip(ELEVEN, STATES, strict=True):
        model.on_event({"type": "venue", "venue": venue, "state": state, "reason": reason})
    model.on_event(
        _opp(
            "opened", "1", T0, 123.45, symbol="1000PEPE/USDT", buy_venue="binanceus",
            sell_venue="bitstamp", size=123456.0, profit=12345.67,
        )
    )  # fmt: skip
    model.on_event(
        _opp("opened", "2", T0 - 61_000 * MS, 7.25, buy_venue="kucoin", sell_venue="htx")
    )
    model.on_event(_opp("opened", "3", T0, 9.0, symbol="DOGE/USDT"))
    model.on_event(
        _opp(
            "closed", "3", T0 + 900 * MS, 1.0, symbol="DOGE/USDT", buy_venue="coinbase",
            sell_venue="bitfinex", reason="crossed_book", duration_ms=3_725_000.0,
            peak_net_bps=19.5, peak_profit=1234.6,
        )
    )  # fmt: skip
    health = [
        VenueHealth(
            v,
            msgs_per_s=[812.0, 12_345.0, 99_950.0][i % 3],
            latency_ms=None if i % 4 == 0 else [3.0, 1234.0, 61_000.0][i % 3],
            book_age_ms=[40.0, 9_960.0, 123_456.0][i % 3],
            resyncs=[0, 12, 12_345][i % 3],
            reconnects=i,
            drops=[0, 1_234_567, 999][i % 3],
        )
        for i, v in enumerate(ELEVEN)
    ]
    console = Console(width=80, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render(model, health, Status(3725.0, 12.5, 7.25, 1_234_567), T0 + MS))
    console.file.close()
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert max(len(line) for line in lines) == 80
    assert lines == [
        "venues",
        "venue       state                        msg/s    lat   age  resync  recon  drop",
        "────────────────────────────────────────────────────────────────────────────────",
        "binance     live                           812      -  40ms       0      0     0",
        "binanceus   resyncing:crossed_book       12.3k   1.2s   10s      12      1  1.2M",
        "bitfinex    connecting:disconnected       100k    61s  123s   12.3k      2   999",
        "bitstamp    stale                          812    3ms  40ms       0      3     0",
        "bybit       down:disconnected            12.3k      -   10s      12      4  1.2M",
        "coinbase    syncing                       100k    61s  123s   12.3k      5   999",
        "gate        resyncing:desynced             812    3ms  40ms       0      6     0",
        "htx         live                         12.3k   1.2s   10s      12      7  1.2M",
        "kraken      stale                         100k      -  123s   12.3k      8   999",
        "kucoin      live                           812    3ms  40ms       0      9     0",
        "okx         live                         12.3k   1.2s   10s      12     10  1.2M",
        "",
        "open opportunities (2)",
        "symbol           buy → sell               size   net bps   profit      ages  dur",
        "────────────────────────────────────────────────────────────────────────────────",
        "1000PEPE/USDT    binanceus → bitstamp     123k     123.5    12.3k  6ms/13ms  1ms",
        "BTC/USDT         kucoin → htx              1.5       7.2     1.20   61s/61s  61s",
        "",
        "recently closed",
        "symbol       buy → sell                      reason   dur  peak bps  peak profit",
        "────────────────────────────────────────────────────────────────────────────────",
        "DOGE/USDT    coinbase → bitfinex       crossed_book   62m      19.5         1235",
        "",
        "up 62m · 12.5 events/s · engine 7.2 µs/update · 1234567 updates",
    ]  # fmt: skip


TWENTY_ONE = (
    "bequant", "binance", "binanceus", "bitfinex", "bitflyer", "bithumb", "bitstamp", "bybit",
    "coinbase", "deribit", "gate", "gemini", "hitbtc", "htx", "independentreserve", "kraken",
    "kucoin", "okx", "poloniex", "upbit", "cryptoexchangepro",
)  # fmt: skip
NOT_LIVE = {
    "bitfinex": ("resyncing", "crossed_book"),
    "bybit": ("down", "disconnected"),
    "independentreserve": ("connecting", "disconnected"),
    "cryptoexchangepro": ("stale", None),
}


def _twenty_one(model: ConsoleModel, opens: int, closes: int) -> list[VenueHealth]:
    for venue in TWENTY_ONE:
        state, reason = NOT_LIVE.get(venue, ("live", None))
        model.on_event({"type": "venue", "venue": venue, "state": state, "reason": reason})
    for i in range(opens):
        model.on_event(
            _opp(
                "opened", f"o{i}", T0, 50.0 - i, symbol=f"C{i}/USDT",
                buy_venue="independentreserve", sell_venue="cryptoexchangepro",
                size=123456.0, profit=12345.67,
            )
        )  # fmt: skip
    for i in range(closes):
        model.on_event(_opp("opened", f"c{i}", T0, 9.0, symbol=f"D{i}/USDT"))
        model.on_event(
            _opp(
                "closed", f"c{i}", T0 + i * MS, 1.0, symbol=f"D{i}/USDT", buy_venue="bitflyer",
                sell_venue="independentreserve", reason="spread_closed", duration_ms=1500.0,
                peak_net_bps=19.5, peak_profit=12.5,
            )
        )  # fmt: skip
    return [
        VenueHealth(
            v,
            msgs_per_s=[812.0, 12_345.0, 95.0][i % 3],
            # poloniex: live but its book is 9.9 s old; upbit: live but 1.2 s behind
            latency_ms={"upbit": 1234.0}.get(v, [3.0, None][i % 2]),
            book_age_ms={"poloniex": 9_900.0}.get(v, [40.0, 120.0][i % 2]),
            resyncs=i % 3,
            reconnects=i % 2,
            drops=0,
        )
        for i, v in enumerate(TWENTY_ONE)
    ]


def _screen(model: ConsoleModel, health: list[VenueHealth], width: int, height: int) -> list[str]:
    console = Console(
        width=width,
        height=height,
        record=True,
        color_system=None,
        file=open("/dev/null", "w"),  # noqa: SIM115
    )
    live = LiveConsole(
        lambda: health,
        lambda: Status(61.0, 2.5, 7.25, 12345),
        console=console,
        clock=lambda: T0 + 2000 * MS,
    )
    live.model = model
    console.print(live.frame())
    console.file.close()
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_twenty_one_venues_fit_80_by_24() -> None:
    model = ConsoleModel()
    lines = _screen(model, _twenty_one(model, opens=8, closes=4), 80, 24)
    assert lines == [
        'venues 15/21 healthy · 92.8k msg/s · books ≤120ms · lat ≤3ms',
        'bequant 812  binance 12.3k  binanceus 95  bitflyer 12.3k  bithumb 95  +10 more',
        'venue                 state                       msg/s   lat    age resync drop',
        'bitfinex              resyncing:crossed_book        812     -  120ms      0    0',
        'bybit                 down:disconnected           12.3k     -  120ms      1    0',
        'independentreserve    connecting:disconnected        95   3ms   40ms      2    0',
        'poloniex              live                          812   3ms   9.9s      0    0',
        'upbit                 live                        12.3k  1.2s  120ms      1    0',
        'cryptoexchangepro     stale                          95   3ms   40ms      2    0',
        'open opportunities (8)',
        'symbol     buy → sell                                     size   net bps  profit',
        '────────────────────────────────────────────────────────────────────────────────',
        'C0/USDT    independentreserve → cryptoexchangepro         123k      50.0   12.3k',
        'C1/USDT    independentreserve → cryptoexchangepro         123k      49.0   12.3k',
        'C2/USDT    independentreserve → cryptoexchangepro         123k      48.0   12.3k',
        'C3/USDT    independentreserve → cryptoexchangepro         123k      47.0   12.3k',
        'C4/USDT    independentreserve → cryptoexchangepro         123k      46.0   12.3k',
        'recently closed',
        'symbol    buy → sell                               reason  peak bps  peak profit',
        '────────────────────────────────────────────────────────────────────────────────',
        'D3/USDT   bitflyer → independentreserve     spread_closed      19.5        12.50',
        'D2/USDT   bitflyer → independentreserve     spread_closed      19.5        12.50',
        'D1/USDT   bitflyer → independentreserve     spread_closed      19.5        12.50',
        'up 61s · 2.5 events/s · engine 7.2 µs/update · 12345 updates',
    ]  # fmt: skip


def test_screen_never_overflows_the_terminal() -> None:
    """Any terminal height: the frame fits it; full venue rows once everything fits."""
    for width, height in [(80, 12), (80, 24), (80, 30), (100, 24), (120, 50), (60, 24)]:
        model = ConsoleModel()
        lines = _screen(model, _twenty_one(model, opens=8, closes=4), width, height)
        assert max(len(line) for line in lines) <= width
        assert len(lines) == (46 if height >= 46 else height), (width, height)
        assert ("venue    " in lines[1]) == (height >= 46), (width, height)


def test_quiet_screen_lists_every_healthy_venue_with_blank_lines() -> None:
    model = ConsoleModel()
    lines = _screen(model, _twenty_one(model, opens=1, closes=0), 80, 24)
    assert lines == [
        'venues 15/21 healthy · 92.8k msg/s · books ≤120ms · lat ≤3ms',
        'bequant 812  binance 12.3k  binanceus 95  bitflyer 12.3k  bithumb 95',
        'bitstamp 812  coinbase 95  deribit 812  gate 12.3k  gemini 95  hitbtc 812',
        'htx 12.3k  kraken 812  kucoin 12.3k  okx 95',
        'venue                 state                       msg/s   lat    age resync drop',
        'bitfinex              resyncing:crossed_book        812     -  120ms      0    0',
        'bybit                 down:disconnected           12.3k     -  120ms      1    0',
        'independentreserve    connecting:disconnected        95   3ms   40ms      2    0',
        'poloniex              live                          812   3ms   9.9s      0    0',
        'upbit                 live                        12.3k  1.2s  120ms      1    0',
        'cryptoexchangepro     stale                          95   3ms   40ms      2    0',
        '',
        'open opportunities (1)',
        'symbol     buy → sell                                     size   net bps  profit',
        '────────────────────────────────────────────────────────────────────────────────',
        'C0/USDT    independentreserve → cryptoexchangepro         123k      50.0   12.3k',
        '',
        'recently closed',
        'symbol      buy → sell            reason    dur       peak bps       peak profit',
        '────────────────────────────────────────────────────────────────────────────────',
        '',
        'up 61s · 2.5 events/s · engine 7.2 µs/update · 12345 updates',
    ]  # fmt: skip


def test_console_shows_cross_quote_rows_and_the_premium_table() -> None:
    model = ConsoleModel()
    cross = _opp("opened", "4", T0, 30.0, symbol="BTC/USD", sell_quote="USDT", buy_venue="kraken")
    model.on_event({**cross, "kind": "cross_quote"})
    for venue, bps in (("upbit", 151.04), ("kraken", -1.7), ("binance", 0.2)):
        model.on_event({"type": "premium", "base": "BTC", "venue": venue, "premium_bps": bps})
    model.on_event({"type": "premium", "base": "ETH", "venue": "upbit", "premium_bps": 149.6})
    text = _text(model, T0)
    assert "BTC/USD>USDT     kraken → binance" in text
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("premium bps"))
    assert lines[at].startswith("premium bps vs the other venues' median (USD)")
    assert lines[at + 1].split() == ["base", "binance", "kraken", "upbit"]
    assert lines[at + 3].split() == ["BTC", "+0", "-2", "+151"]
    assert lines[at + 4].split() == ["ETH", "-", "-", "+150"]
