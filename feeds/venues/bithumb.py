"""Bithumb public WebSocket ``orderbook`` (``bithumb``, KRW market): Upbit's protocol.

Protocol (https://apidocs.bithumb.com/reference/기본-정보): the public stream (its "v1")
``wss://ws-api.bithumb.com/websocket/v1`` serves ``ticker``, ``trade`` and ``orderbook`` with
the request and message layout of Upbit's (``[{"ticket"}, {"type": "orderbook", "codes":
["KRW-BTC"]}, {"format": "DEFAULT"}]``; whole top-N books with ``total_ask_size``,
``total_bid_size``, ``orderbook_units`` and ``timestamp``), so :class:`Bithumb` is
:class:`feeds.venues.upbit.Upbit` with this spec and the DEFAULT (unabbreviated) keys.

Only on the documentation: no recording of this stream exists. The one Bithumb recording
(2021, ``wss://pubwss.bithumb.com/pub/ws``) is of the retired API, and of trades only (no
book): it stays out of the fixtures, and no codec of that API is kept.
"""

from __future__ import annotations

from typing import Final

from feeds import protocol as p
from feeds.spec import TakerFee, VenueSpec
from feeds.venues.upbit import DEFAULT, Upbit

SPEC: Final = VenueSpec(
    id="bithumb",
    # "Public (v1) 엔드포인트: wss://ws-api.bithumb.com/websocket/v1"
    # (https://apidocs.bithumb.com/reference/기본-정보)
    endpoints=p.Endpoints(
        ws="wss://ws-api.bithumb.com/websocket/v1", rest="https://api.bithumb.com"
    ),
    integrity=p.Integrity(seq=p.SeqRule.SNAPSHOT_ONLY),
    symbol_format="{quote}-{base}",  # KRW-BTC (https://apidocs.bithumb.com/reference/호가-정보-조회)
    asset_names={},
    depths=None,  # no documented count per code: the venue's default book
    max_symbols_per_connection=100,  # no documented limit of codes per connection
    subscribe_batch=None,
    # "WebSocket 연결 요청은 IP 기준 초당 10회로 제한" limits connections, not messages
    # (https://apidocs.bithumb.com/reference/기본-정보): no documented rate of client frames.
    sends_per_s=None,
    requests_per_hour=None,
    ping_interval_s=None,  # no application ping documented: WebSocket pings probe it
    max_connection_s=None,
    older_protocols=(),  # the retired pubwss API had no book channel to replay
    # The basic rate before fee coupons (coupons and events lower it to 0.04 %): the higher
    # figure, so that no opportunity is shown that only a coupon would make.
    fee=TakerFee(
        25.0,
        "0.25 % KRW market, basic rate without a coupon",
        "https://www.bithumb.com/react/info/fee/inout",
        "2026-12",
    ),
)


class Bithumb(Upbit):
    """Bithumb ``orderbook``: Upbit's codec with Bithumb's spec, DEFAULT format."""

    spec = SPEC
    format = "DEFAULT"
    keys = DEFAULT


CODECS: Final = (Bithumb,)
