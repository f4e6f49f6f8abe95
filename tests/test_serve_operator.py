"""The event server's security rules (token, origin, client cap) and its operator endpoints
(/health, /metrics), with exact values."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request

from arbscan import cli
from arbscan.replay import replay_readings
from feeds.capture import CaptureReader
from feeds.replay import Replayer
from feeds.venues import codec_class
from scanner.access import Access, own_origins
from scanner.config import ConfigError, ScannerConfig, ServeConfig, parse_config
from scanner.engine import Engine
from scanner.events import venue_event
from scanner.eventserver import WsEventServer
from scanner.metrics import Readings
from tests.schema_check import check_all
from tests.test_serve_protocol import http_get, run
from tests.test_sinks import T

TOKEN = "s3cret-token_0123456789"
EMULATED = Path(__file__).parent / "fixtures" / "emulated_binance_okx.ndjson.gz"


# --- start-up ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--serve", "0.0.0.0:8765"], "--serve: listening on 0.0.0.0 (not loopback) needs a token: "
         "--serve-token TOKEN or serve.token in the config"),
        (["--web", "[::]:0"], "--web: listening on :: (not loopback) needs a token: "
         "--serve-token TOKEN or serve.token in the config"),
        (["--serve", "192.168.1.2:8765"], "--serve: listening on 192.168.1.2 (not loopback) "
         "needs a token: --serve-token TOKEN or serve.token in the config"),
        (["--serve-token", "short"], "--serve-token: expected 16 to 256 characters among "
         "A-Z a-z 0-9 . _ ~ - (python -c 'import secrets; print(secrets.token_urlsafe(24))' "
         "makes one)"),
        (["--serve-origin", "https://a.example/path"], "--serve-origin: expected "
         "http(s)://host[:port] in lower case, got 'https://a.example/path'"),
    ],
)  # fmt: skip
def test_start_up_refuses_off_loopback_without_a_token(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ([], ["replay", str(EMULATED)]):
        assert cli.main([*command, *argv, "--json"]) == 2
        assert capsys.readouterr() == ("", f"run.py: {message}\n")


def test_the_serve_config_section() -> None:
    raw = {"token": TOKEN, "origins": ["https://dash.example", "http://[::1]:9000"],
           "max_clients": 3, "token_exempt": ["/health"]}  # fmt: skip
    assert parse_config({"serve": raw}).serve == ServeConfig(
        TOKEN, ("https://dash.example", "http://[::1]:9000"), 3, ("/health",)
    )
    for bad, message in [
        ({"token": 5}, "serve.token: expected 16 to 256 characters"),
        ({"token": "a b" * 10}, "serve.token: expected 16 to 256 characters"),
        ({"origins": "https://a.example"}, "serve.origins: expected a list of strings"),
        ({"origins": ["HTTPS://A.EXAMPLE"]}, "serve.origins: expected http(s)://host[:port]"),
        ({"max_clients": 0}, "serve.max_clients: must be between 1 and 10000, got 0"),
        ({"token_exempt": ["/"]}, "serve.token_exempt: expected /health or /metrics, got '/'"),
        ({"tokens": TOKEN}, "serve.tokens: unknown key (known: token, origins, max_clients"),
    ]:
        with pytest.raises(ConfigError) as error:
            parse_config({"serve": bad})
        assert str(error.value).startswith(message), error.value


def test_a_token_in_the_config_lets_the_server_listen_off_loopback(tmp_path: Path) -> None:
    config = tmp_path / "arbscan.toml"
    config.write_text(f'[serve]\ntoken = "{TOKEN}"\norigins = ["https://dash.example"]\n')
    plan = cli.plan_from(cli.parser().parse_args(["scan", "--serve", "0.0.0.0:8765",
                                                  "--config", str(config)]))  # fmt: skip
    assert plan.access == Access(TOKEN, frozenset({"https://dash.example"}), 64, frozenset())
    plan = cli.plan_from(cli.parser().parse_args(["scan", "--web", "--serve-token", TOKEN * 2,
                                                  "--serve-origin", "http://a.example:81",
                                                  "--config", str(config)]))  # fmt: skip
    assert plan.access.token == TOKEN * 2  # the command line's replaces the config's
    assert plan.access.origins == {"https://dash.example", "http://a.example:81"}


# --- token, origin, cap -----------------------------------------------------------------


async def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as error:
        await connect(url, **kwargs)
    return error.value.response.status_code


def test_a_missing_or_wrong_token_is_refused() -> None:
    async def main(server: WsEventServer) -> None:
        url = f"ws://127.0.0.1:{server.port}/ws"
        assert await refused(url) == 401
        assert await refused(url, additional_headers={"Authorization": "Bearer wrong"}) == 401
        assert await refused(url + "?token=" + TOKEN[:-1]) == 401
        assert await refused(url, additional_headers={"Authorization": f"Basic {TOKEN}"}) == 401
        assert server.rejected == {"token": 4} and server.clients == []
        async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            assert orjson.loads(await ws.recv())["type"] == "hello"
        async with connect(f"{url}?token={TOKEN}") as ws:
            assert orjson.loads(await ws.recv())["type"] == "hello"
        for path in ("/health", "/metrics"):
            assert (await http_get(server.port, path))[0] == 401
            assert (await http_get(server.port, f"{path}?token={TOKEN}"))[0] in (200, 503)
        status, headers, _ = await http_get(server.port, "/health")
        assert (status, headers["www-authenticate"]) == (401, "Bearer")
        assert server.rejected == {"token": 4}  # HTTP answers are not handshakes

    run(main, access=Access(token=TOKEN))


def test_token_exempt_endpoints_answer_without_it() -> None:
    async def main(server: WsEventServer) -> None:
        assert (await http_get(server.port, "/health"))[0] == 503  # no venue live: no 401
        assert (await http_get(server.port, "/metrics"))[0] == 401

    run(main, access=Access(token=TOKEN, token_exempt=frozenset({"/health"})))


def test_browsers_only_from_the_servers_own_origin_or_a_configured_one() -> None:
    async def main(server: WsEventServer) -> None:
        port = server.port
        url = f"ws://127.0.0.1:{port}/ws"
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                       f"http://[::1]:{port}", "https://dash.example", None):  # fmt: skip
            async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
                assert orjson.loads(await ws.recv())["type"] == "hello"
        for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}",
                       f"https://127.0.0.1:{port}", "null"):  # fmt: skip
            assert await refused(url, origin=origin) == 403, origin
        assert server.rejected == {"origin": 4}

    run(main, access=Access(origins=frozenset({"https://dash.example"})))


def request(origin: str | None, host: str) -> Request:
    headers = Headers([("Host", host)] + ([("Origin", origin)] if origin else []))
    return Request("/ws", headers)


def test_the_own_origin_of_each_kind_of_address() -> None:
    assert own_origins("127.0.0.1", 8080) == frozenset(
        {"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"}
    )
    assert own_origins("10.0.0.5", 80) == frozenset({"http://10.0.0.5:80"})
    assert own_origins("fe80::1", 80) == frozenset({"http://[fe80::1]:80"})
    assert own_origins("0.0.0.0", 80) is None and own_origins("::", 80) is None
    access = Access(token=TOKEN)
    # bound to every address: the page's origin must name the host the request reached
    assert access.origin_ok(request("http://box.lan:8080", "box.lan:8080"), "0.0.0.0", 8080)
    assert access.origin_ok(request("http://BOX.lan:8080", "box.LAN:8080"), "0.0.0.0", 8080)
    assert not access.origin_ok(request("http://evil.example:8080", "box.lan:8080"), "::", 8080)
    assert not access.origin_ok(request("http://box.lan:9", "box.lan:9"), "0.0.0.0", 8080)
    assert access.origin_ok(request(None, "box.lan:8080"), "0.0.0.0", 8080)
    two = Request("/ws", Headers([("Origin", "http://a:1"), ("Origin", "http://a:1")]))
    assert not access.origin_ok(two, "0.0.0.0", 1)


def test_the_number_of_clients_is_capped() -> None:
    async def main(server: WsEventServer) -> None:
        url = f"ws://127.0.0.1:{server.port}/ws"
        async with connect(url) as first, connect(url):
            assert await refused(url) == 503
            assert await refused(url) == 503
            assert server.rejected == {"full": 2} and len(server.clients) == 2
            await first.close()
            async with asyncio.timeout(5):
                while len(server.clients) == 2:
                    await asyncio.sleep(0.01)
            async with connect(url) as ws:
                assert orjson.loads(await ws.recv())["type"] == "hello"

    run(main, access=Access(max_clients=2))


# --- /health, /metrics ------------------------------------------------------------------


def test_health_is_503_until_a_venue_is_live() -> None:
    readings = Readings(venues={"binance": {"frames": 3, "last_frame_ns": T - 2_500_000}})

    async def main(server: WsEventServer) -> None:
        status, headers, body = await http_get(server.port, "/health")
        assert (status, headers["content-type"]) == (503, "application/json")
        assert orjson.loads(body) == {
            "status": "down", "live": 0, "clients": 0, "open_opportunities": 0,
            "venues": {"binance": {"state": None, "last_frame_age_ms": 2.5},
                       "okx": {"state": None, "last_frame_age_ms": None},
                       "kraken": {"state": None, "last_frame_age_ms": None}},
        }  # fmt: skip
        server.emit(venue_event("binance", "live", None, T))
        server.emit(venue_event("okx", "down", "refused", T))
        status, _, body = await http_get(server.port, "/health")
        assert status == 200
        assert orjson.loads(body)["venues"] == {
            "binance": {"state": "live", "last_frame_age_ms": 2.5},
            "okx": {"state": "down", "last_frame_age_ms": None},
            "kraken": {"state": None, "last_frame_age_ms": None},
        }
        server.emit(venue_event("binance", "stale", "no frame for 10.0 s", T))
        status, _, body = await http_get(server.port, "/health")
        assert (status, orjson.loads(body)["status"]) == (503, "down")

    run(main, readings=lambda: readings, clock=lambda: T)


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_after_a_deterministic_replay() -> None:
    """The emulated capture replayed through the engine (whose clock says every timed update
    took 3 µs), then /metrics scraped and parsed by prometheus_client's own parser."""
    venues, symbols = ["binance", "okx"], ["BTC/USDT", "ETH/USDT"]
    records = list(CaptureReader(EMULATED))
    events: list[dict[str, Any]] = []

    async def main(server: WsEventServer) -> None:
        def emit(event: dict[str, Any]) -> None:
            events.append(event)
            server.emit(event)

        clock = itertools.count(0, 3_000)
        engine = Engine(ScannerConfig(), venues, symbols, dict.fromkeys(venues, 10.0), emit,
                        perf_ns=lambda: next(clock))  # fmt: skip
        replayer = Replayer(
            records,
            lambda venue, conn: codec_class(venue)(symbols),
            engine.leg,
            lambda venue, state, reason, ts: emit(venue_event(venue, state, reason, ts)),
        )
        fed = 0
        for r in records:  # up to the first opportunity, still open
            replayer.feed(r)
            fed += 1
            if any(e["type"] == "opened" for e in events):
                break
        frames = {v: sum(r.dir == "in" and r.venue == v for r in records[:fed]) for v in venues}
        server.readings = lambda: replay_readings(replayer.summary, engine, server)
        async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
            greeting = [orjson.loads(await ws.recv()) for _ in range(5)]
            status, headers, body = await http_get(server.port, "/metrics")
            assert (status, headers["content-type"]) == (
                200, "text/plain; version=0.0.4; charset=utf-8"
            )  # fmt: skip
            got = metrics(body.decode())
        assert [e["type"] for e in greeting] == [
            "hello",
            "opened",
            "venue",
            "venue",
            "snapshot_end",
        ]
        updates = engine.stats.updates
        assert (fed, updates, engine.stats.errors) == (102, 93, 0)
        book_updates = {v: sum(st.book_msgs for st in replayer.summary.stats[v]) for v in venues}
        assert (frames, book_updates) == (
            {"binance": 47, "okx": 49},
            {"binance": 48, "okx": 47},
        )
        check_all(events)
        serve = f"serve:{server.address}"
        timed = updates // 16
        expected: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {
            **{
                (f"arbscan_venue_{name}_total", (("venue", v),)): float(n[v])
                for name, n in [("frames", frames), ("book_updates", book_updates)]
                for v in venues
            },
            **{
                (f"arbscan_venue_{name}_total", (("venue", v),)): 0.0
                for name in ("resyncs", "malformed_frames", "reconnects")
                for v in venues
            },
            **{
                ("arbscan_venue_state", (("state", s), ("venue", v))): float(s == "live")
                for s in ("connecting", "syncing", "live", "resyncing", "stale", "down")
                for v in venues
            },
            ("arbscan_sink_events_total", (("sink", serve),)): 5.0,  # the client's greeting
            ("arbscan_sink_dropped_total", (("sink", serve),)): 0.0,
            ("arbscan_engine_updates_total", ()): float(updates),
            ("arbscan_engine_errors_total", ()): 0.0,
            **{
                ("arbscan_engine_update_seconds_bucket", (("le", le),)): 0.0
                for le in ("1e-06", "2e-06")
            },
            **{
                ("arbscan_engine_update_seconds_bucket", (("le", le),)): float(timed)
                for le in (
                    "5e-06",
                    "1e-05",
                    "2e-05",
                    "5e-05",
                    "0.0001",
                    "0.0002",
                    "0.0005",
                    "0.001",
                    "0.005",
                    "+Inf",
                )
            },
            ("arbscan_engine_update_seconds_count", ()): float(timed),
            ("arbscan_engine_update_seconds_sum", ()): pytest.approx(timed * 3e-6),
            ("arbscan_open_opportunities", ()): 1.0,
            ("arbscan_clients", ()): 1.0,
            ("arbscan_clients_lagged_total", ()): 0.0,
            **{
                ("arbscan_clients_rejected_total", (("reason", r),)): 0.0
                for r in ("origin", "token", "full")
            },
        }
        for state in ("connecting", "syncing", "live", "resyncing", "stale", "down"):
            # announced in hello, never reported: no state is 1
            expected[("arbscan_venue_state", (("state", state), ("venue", "kraken")))] = 0.0
        assert got == expected

    run(main)


def test_web_serves_the_dashboard_health_and_metrics_of_an_emulated_scan() -> None:
    """``run.py --web`` end to end: the URL on stderr, the page, /health turning 200 once the
    venues are live, /metrics agreeing with the exit summary, the stream on /ws."""
    root = Path(__file__).resolve().parent.parent
    argv = [sys.executable, str(root / "run.py"), "--json", "--web", "127.0.0.1:0",
            "--duration", "4", "--venues", "binance,okx", "--symbols", "BTC/USDT"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert line.startswith("dashboard: http://127.0.0.1:") and line.endswith("/\n"), line
        port = int(line.rsplit(":", 1)[1].rstrip("/\n"))

        async def main() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            async with asyncio.timeout(20):
                status, _, body = await http_get(port, "/")
                assert (status, body) == (200, (root / "scanner/web/index.html").read_bytes())
                while True:  # 503 until a venue is live; then until both are
                    status, _, body = await http_get(port, "/health")
                    if status == 200 and orjson.loads(body)["live"] == 2:
                        break
                    await asyncio.sleep(0.05)
                async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                    hello = orjson.loads(await ws.recv())
                    assert (hello["venues"], hello["symbols"]) == (["binance", "okx"], ["BTC/USDT"])
                return metrics((await http_get(port, "/metrics"))[2].decode())

        got = asyncio.run(main())
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    for venue in ("binance", "okx"):
        assert got[("arbscan_venue_state", (("state", "live"), ("venue", venue)))] == 1.0
        scraped = got[("arbscan_venue_frames_total", (("venue", venue),))]
        final = re.search(rf"run.py: venue {venue}: (\d+) frames", err.decode())
        assert final is not None and 0 < scraped <= int(final[1])
    assert got[("arbscan_engine_updates_total", ())] > 0
