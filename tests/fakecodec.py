"""A tiny synthetic codec for session tests: JSON frames that spell out the events.

Frame objects (a frame is one object, or ``{"events": [obj, ...]}``):

* ``{"snap": "BTCUSD", "b": [[px, sz], ...], "a": [...], "seq": n, "cs": n, "ts": n}``
* ``{"d": "BTCUSD", "b": ..., "a": ..., "first": n, "last": n, "prev": n, "cs": n, "ts": n}``
* ``{"conn": n}`` (ConnectionSeq), ``{"hb": 1}``, ``{"ping": n}`` (answered ``{"pong":n}``),
  ``{"sub": "BTCUSD" | null, "depth": n}``, ``{"err": "text", "sym": "BTCUSD"}``,
  ``{"suspend": "why"}`` (Suspended), ``{"resume": "why"}`` (Resumed),
  ``{"bug": 1}`` (raises KeyError: a codec bug), ``{"boom": 1}`` (raises RuntimeError).
  Anything else raises ParseError.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, cast

from feeds.checksum import ChecksumLayout
from feeds.protocol import (
    BookDelta,
    BookSnapshot,
    Codec,
    ConnectionSeq,
    Endpoints,
    Event,
    Heartbeat,
    Integrity,
    ParseError,
    Reply,
    RestRequest,
    Resumed,
    SeqRule,
    SnapshotSource,
    Subscribed,
    Suspended,
    VenueError,
)


class FakeCodec(Codec):
    """Venue ``fake``: canonical ``BTC/USD`` <-> ``BTCUSD``."""

    venue = "fake"
    integrity = Integrity(seq=SeqRule.NONE)
    endpoints = Endpoints(ws="ws://127.0.0.1:1/ws", rest="http://127.0.0.1:1")
    has_unsubscribe: ClassVar[bool] = True

    def venue_symbol(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def canonical(self, venue_id: str) -> str:
        for s in self.symbols:
            if self.venue_symbol(s) == venue_id:
                return s
        return venue_id  # unknown: the session counts it

    def subscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        return [json.dumps({"op": "sub", "args": [self.venue_symbol(s) for s in symbols]})]

    def unsubscribe_frames(self, symbols: Sequence[str]) -> list[str]:
        if not self.has_unsubscribe:
            return []
        return [json.dumps({"op": "unsub", "args": [self.venue_symbol(s) for s in symbols]})]

    def ping_frame(self) -> str | None:
        return '{"op":"ping"}'

    def snapshot_request(self, symbol: str, rest_base: str, levels: int = 100) -> RestRequest:
        return RestRequest(f"{rest_base}/depth?symbol={self.venue_symbol(symbol)}", symbol)

    def snapshot_frame(self, symbol: str) -> str:
        return json.dumps({"op": "req", "args": [self.venue_symbol(symbol)]})

    def parse_snapshot(self, symbol: str, body: bytes) -> BookSnapshot:
        try:
            obj = json.loads(body)
            return BookSnapshot(
                symbol, obj["b"], obj["a"], seq=obj.get("seq"), venue_ts_ns=obj.get("ts")
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ParseError(f"bad snapshot: {exc}") from exc

    def parse(self, frame: str | bytes) -> list[Event]:
        try:
            obj = json.loads(frame)
        except ValueError as exc:
            raise ParseError("not JSON") from exc
        if not isinstance(obj, dict):
            raise ParseError("not an object")
        items = obj.get("events", [obj])
        return [self._event(cast(dict[str, Any], item)) for item in items]

    def _event(self, o: dict[str, Any]) -> Event:
        if "snap" in o:
            sym = self.canonical(o["snap"])
            return BookSnapshot(sym, o["b"], o["a"], o.get("seq"), o.get("cs"), o.get("ts"))
        if "d" in o:
            sym = self.canonical(o["d"])
            return BookDelta(
                sym,
                o["b"],
                o["a"],
                o.get("first"),
                o.get("last"),
                o.get("prev"),
                o.get("cs"),
                o.get("ts"),
            )
        if "conn" in o:
            return ConnectionSeq(o["conn"])
        if "hb" in o:
            return Heartbeat()
        if "ping" in o:
            return Reply(json.dumps({"pong": o["ping"]}))
        if "sub" in o:
            return Subscribed(
                None if o["sub"] is None else self.canonical(o["sub"]), o.get("depth")
            )
        if "err" in o:
            return VenueError(o["err"], o.get("sym"))
        if "suspend" in o:
            return Suspended(o["suspend"])
        if "resume" in o:
            return Resumed(o["resume"])
        if "bug" in o:
            raise KeyError("bug")  # stands for a codec bug on an unexpected shape
        if "boom" in o:
            raise RuntimeError("boom")  # not a data-shape error: must propagate
        raise ParseError(f"unknown frame {o!r}")


def make_codec(
    seq: SeqRule = SeqRule.NONE,
    *,
    checksum: ChecksumLayout | None = None,
    rest: bool = False,
    request: bool = False,
    connection_counter: bool = False,
    keep_text: bool = False,
    level_seq: bool = False,
    level_actions: bool = False,
    verify_snapshots: bool = False,
    ping_interval_s: float | None = None,
    unsubscribe: bool = True,
    symbols: Sequence[str] = ("BTC/USD", "ETH/USD"),
    depth: int | None = None,
) -> FakeCodec:
    """A FakeCodec subclass instance with this integrity rule."""
    integrity = Integrity(
        seq=seq,
        checksum=checksum,
        snapshot=SnapshotSource.REST
        if rest
        else SnapshotSource.REQUEST
        if request
        else SnapshotSource.IN_BAND,
        connection_counter=connection_counter,
        keep_text=keep_text,
        level_seq=level_seq,
        level_actions=level_actions,
        verify_snapshots=verify_snapshots,
    )
    attrs = {
        "integrity": integrity,
        "ping_interval_s": ping_interval_s,
        "has_unsubscribe": unsubscribe,
    }
    cls = cast(type[FakeCodec], type("Fake", (FakeCodec,), attrs))
    return cls(symbols, depth=depth)
