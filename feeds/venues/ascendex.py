"""AscendEX cash ``depth:<symbol>`` codec (``ascendex``; the older ccxt id ``bitmax``).

Protocol: AscendEX Pro API v1 WebSocket (https://ascendex.github.io/ascendex-pro-api/,
"WebSocket": the level-2 ``depth`` channel and the ``depth-snapshot`` request).
Subscribe ``{"op":"sub","ch":"depth:<sym>,<sym>"}`` (acked per symbol with ``{"m":"sub",
"ch":"depth:<sym>","code":0}``); each ``{"m":"depth"}`` push carries the changed levels
(size "0" deletes) and ``seqnum``, which grows by exactly one per push of that symbol (rule
COUNTER). The book is seeded by asking ``{"op":"req","action":"depth-snapshot","args":
{"symbol":<sym>}}`` on the same connection (snapshot source REQUEST): the ``depth-snapshot``
answer holds the book at its ``seqnum``; pushes at or below it are dropped, the next one is
``seqnum + 1``. The venue pings ``{"m":"ping","hp":n}`` and expects ``{"op":"pong"}``; a
client ``{"op":"ping"}`` is answered ``{"m":"pong"}``. Errors are ``{"m":"error","code",
"reason","info"}``. The same protocol as the 2021 recording: no older codec.

Proven on the 2021 recording (tests/fixtures/ascendex.ndjson.gz, the v1 stream as today):
the subscribe and snapshot requests, acks, server pings, the push and snapshot shapes and the
seqnum rule on every push after each snapshot. Proven only on the docs' description: client
pings and their pongs, errors, unsubscribing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from feeds import protocol as p
from feeds.codeckit import json_object, levels, millis_ns, uint
from feeds.spec import TakerFee, VenueSpec

_DOCS: Final = "https://ascendex.github.io/ascendex-pro-api/"
_FEES: Final = "https://ascendex.com/en/feerate/transactionfee-traderate"

SPEC: Final = VenueSpec(
    id="ascendex",
    # VIP 0 taker, "Large Market Cap Assets" (altcoins: 0.2%) (_FEES).
    fee=TakerFee(10.0, "VIP 0, large market cap assets", _FEES, "2026-12"),
    aliases=("bitmax",),  # BitMax until its 2021 rename
    symbol_format="{base}/{quote}",
    # The docs' "wss://ascendex.com/<account-group>/api/pro/v1/stream" (_DOCS, "WebSocket"),
    # with the group the recording connected to for public channels.
    endpoints=p.Endpoints(ws="wss://ascendex.com/1/api/pro/v1/stream", rest="https://ascendex.com"),
    integrity=p.Integrity(seq=p.SeqRule.COUNTER, snapshot=p.SnapshotSource.REQUEST),
    # One "sub" names any number of symbols, comma separated (_DOCS, "WebSocket"); no
    # per-connection symbol limit is documented (the default 100 is kept).
    subscribe_batch=100,
    # The venue pings (15 s apart in the recording) and closes a connection that does not
    # answer; the codec answers each ping with a pong (_DOCS, "WebSocket").
    ping_interval_s=None,
)


class AscendEx(p.Codec):
    """AscendEX cash: ``depth`` pushes counted by ``seqnum``, seeded by a requested snapshot."""

    spec = SPEC

    def _request(self, op: str, symbols: Sequence[str]) -> list[str]:
        ids = [self.venue_symbol(s) for s in symbols]
        chunks = (",".join(ids[i : i + 100]) for i in range(0, len(ids), 100))
        return [orjson.dumps({"op": op, "ch": "depth:" + chunk}).decode() for chunk in chunks]

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("sub", symbols)

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return self._request("unsub", symbols)

    def snapshot_frame(self, symbol: str) -> str:
        args = {"symbol": self.venue_symbol(symbol)}
        return orjson.dumps({"op": "req", "action": "depth-snapshot", "args": args}).decode()

    def ping_frame(self) -> str:
        return '{"op":"ping"}'

    def parse(self, frame: str | bytes) -> list[p.Event]:
        obj = json_object(frame)
        kind = obj.get("m")
        if kind == "depth" or kind == "depth-snapshot":
            symbol, data = self._symbol(obj.get("symbol")), obj.get("data")
            if type(data) is not dict:
                raise p.ParseError(f"{kind} without a 'data' object")
            bids, asks = levels(data.get("bids"), "bids"), levels(data.get("asks"), "asks")
            seq, ts = uint(data.get("seqnum"), "seqnum"), millis_ns(data.get("ts"), "ts")
            if kind == "depth":
                return [p.BookDelta(symbol, bids, asks, seq, seq, venue_ts_ns=ts)]
            return [p.BookSnapshot(symbol, bids, asks, seq=seq, venue_ts_ns=ts)]
        if kind == "ping":
            return [p.Reply('{"op":"pong"}')]
        if kind in ("pong", "connected"):
            return [p.Heartbeat()]
        if kind == "sub":
            ch = obj.get("ch")
            if type(ch) is str and ch.startswith("depth:") and obj.get("code") == 0:
                return [p.Subscribed(self._symbol(ch[6:]))]
            return []  # another channel's ack
        if kind == "error":
            info = str(obj.get("info"))[:200]
            return [p.VenueError(f"{obj.get('code')} {obj.get('reason')}: {info}")]
        if type(kind) is str:
            return []  # trades, bbo, unsub acks...: not used
        raise p.ParseError("not an AscendEX frame")

    def _symbol(self, vid: object) -> str:
        symbol = self._canonical.get(vid) if type(vid) is str else None
        if symbol is None:
            raise p.ParseError(f"depth of a symbol not subscribed {str(vid)[:40]!r}")
        return symbol


CODECS: Final = (AscendEx,)
