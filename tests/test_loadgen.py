"""The load generator's per-symbol recordings: each connection gets its own symbol's frames."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from benchmarks.loadgen import Recording, Replayer, record, schedule

SYMBOLS = ("BTC/USDT", "ETH/USDT")


def _frames(rec: Recording) -> list[str]:
    raw = [rec.blob[rec.offsets[i] : rec.offsets[i + 1]] for i in range(len(rec.offsets) - 1)]
    return [f[4:].decode() if f[1] == 126 else f[2:].decode() for f in raw]


async def _client(url: str, subscribe: str, frames: list[str], n: int) -> None:
    async with connect(url, max_size=None) as ws:
        await ws.send(subscribe)
        while len(frames) < n:
            frames.append(str(await ws.recv()))


def test_each_connection_receives_the_frames_of_the_symbol_it_subscribed_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recs = record(("okx",), SYMBOLS, 1, 60, schedule(["okx"], SYMBOLS, 60, 1), 0, True)
    assert [(r.venue, r.symbols) for r in recs] == [("okx", ("BTC/USDT",)), ("okx", ("ETH/USDT",))]
    expected = [r.replies[0] + _frames(r) for r in recs]
    assert [len(e) for e in expected] == [62, 62]  # answer, snapshot, then an update a step
    assert all("BTC-USDT" in f and "ETH-USDT" not in f for f in expected[0])
    assert all("ETH-USDT" in f and "BTC-USDT" not in f for f in expected[1])

    async def main() -> list[list[str]]:
        replayer = Replayer(recs)
        async with contextlib.AsyncExitStack() as stack:
            await replayer.start(stack)
            assert len(replayer.urls) == 1  # one server for the venue's recordings
            url = replayer.urls[0][1]
            got: list[list[str]] = [[], []]
            clients = [  # in the other order than recorded: the subscribe frame decides
                asyncio.create_task(_client(url, recs[i].subscribes[0], got[i], len(expected[i])))
                for i in (1, 0)
            ]
            async with asyncio.timeout(10):
                while len(replayer.clients) < 2:
                    await asyncio.sleep(0.01)
                assert (await replayer.run(10_000, 1.0)).startswith("done 120 ")
                await asyncio.gather(*clients)
            async with connect(url) as ws:  # a subscribe frame not recorded: closed
                await ws.send('{"op":"subscribe","args":[{"channel":"books","instId":"X-Y"}]}')
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            return got

    assert asyncio.run(main()) == expected
    assert capsys.readouterr().out.startswith("start ")
