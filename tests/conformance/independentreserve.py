"""Independent Reserve: the documented order book snapshot stream (btc-aud at depth 5), from
https://github.com/independentreserve/websockets/blob/master/orderbook-snapshot.md. The 2022
recording speaks the older order-level channel, not replayed: what it shares is proven in
tests/test_venue_independentreserve.py."""

from feeds.protocol import BookDelta, BookSnapshot, Heartbeat, Ignored, VenueError
from feeds.venues.independentreserve import IndependentReserve
from tests.conformance import Replay, VenueCase

CH = '{"Channel":"orderbook/5/btc/aud","Data":'
SNAPSHOT = CH + (
    '{"Bids":[{"Price":31802.46,"Volume":0.25},{"Price":31802.45,"Volume":0.32464684},'
    '{"Price":31802.42,"Volume":0.34465528},{"Price":31785.01,"Volume":2.733},'
    '{"Price":31785,"Volume":1.5}],"Offers":[{"Price":31844.99,"Volume":0.30740328},'
    '{"Price":31845,"Volume":1.5},{"Price":31865.3,"Volume":0.2},{"Price":31875,"Volume":1.5},'
    '{"Price":31875.9,"Volume":0.788}],"Crc32":2893776693},"Time":1660895883834,'
    '"Event":"OrderBookSnapshot"}'
)
CHANGE = CH + (
    '{"Bids":[],"Offers":[{"Price":31844.98,"Volume":0.02396605}],"Crc32":263206970},'
    '"Time":1660895884514,"Event":"OrderBookChange"}'
)
BID = CH + (  # not documented: one more bid, signed by the documented rule (depth 5 truncated)
    '{"Bids":[{"Price":31802.47,"Volume":0.1}],"Offers":[],"Crc32":3065582141},'
    '"Time":1660895884600,"Event":"OrderBookChange"}'
)
UNBID = CH + (  # the same bid deleted again
    '{"Bids":[{"Price":31802.47,"Volume":0}],"Offers":[],"Crc32":53450727},'
    '"Time":1660895884700,"Event":"OrderBookChange"}'
)
HEARTBEAT = '{"Time":1661145843028,"Event":"Heartbeat"}'
SUBSCRIPTIONS = '{"Event":"Subscriptions","Data":["btc-aud"]}'  # README's shape
MS = 10**6
BIDS = [[31802.46, 0.25], [31802.45, 0.32464684], [31802.42, 0.34465528], [31785.01, 2.733]]
ASKS = [[31844.99, 0.30740328], [31845, 1.5], [31865.3, 0.2], [31875, 1.5], [31875.9, 0.788]]

CASE = VenueCase(
    codec=IndependentReserve,
    symbols=("BTC/AUD",),
    depth=5,
    subscribe=('{"Event":"Subscribe","Data":["btc-aud"]}',),
    samples=(
        (
            SNAPSHOT,
            (
                BookSnapshot(
                    "BTC/AUD",
                    [*BIDS, [31785, 1.5]],
                    ASKS,
                    checksum=2893776693,
                    venue_ts_ns=1660895883834 * MS,
                ),
            ),
        ),
        (
            CHANGE,
            (
                BookDelta(
                    "BTC/AUD",
                    [],
                    [[31844.98, 0.02396605]],
                    checksum=263206970,
                    venue_ts_ns=1660895884514 * MS,
                ),
            ),
        ),
        (HEARTBEAT, (Heartbeat(),)),
        (SUBSCRIPTIONS, ()),
        ('{"Event":"Error","Data":"Invalid channel"}', (VenueError("Error: Invalid channel"),)),
        ('{"Event":"Trade","Channel":"ticker-btc-aud"}', (Ignored("Event Trade"),)),
    ),
    malformed=(
        CH + '{"Bids":[],"Offers":[],"Crc32":1},"Event":"OrderBookChange"}',  # no Time
        "",
        "[]",
        "{}",
        '{"Event":5}',
        '{"Channel":"orderbook/5/eth/aud","Data":{"Bids":[],"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        '{"Channel":"orderbook-btc-aud","Data":{"Bids":[],"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        '{"Channel":5,"Data":{},"Event":"OrderBookChange"}',
        CH + '[],"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":{},"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[5],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[{"Price":1}],"Offers":[],"Crc32":1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[],"Crc32":-1},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[],"Crc32":"1"},"Time":1,"Event":"OrderBookChange"}',
        CH + '{"Bids":[],"Offers":[],"Crc32":1},"Time":-1,"Event":"OrderBookChange"}',
    ),
    frames=(SUBSCRIPTIONS, SNAPSHOT, HEARTBEAT, CHANGE, BID, UNBID),
    # The documented snapshot and the change after it, then one more bid added and deleted:
    # every checksum matches (after truncating the depth-5 book, whose fifth bid is gone).
    replay=Replay(
        messages=4,
        snapshots=1,
        deltas=3,
        checks=4,
        tops={"BTC/AUD": (31802.46, 0.25, 31844.98, 0.02396605)},
    ),
    emulator_path="/orderbook/50",
    wire=(SNAPSHOT, CHANGE, HEARTBEAT),
)
