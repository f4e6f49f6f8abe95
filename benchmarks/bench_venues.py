"""Every venue on its real recording, this project's feeds against cryptofeed 2.4.1's.

A venue's case is its recording ``tests/fixtures/<venue>.ndjson.gz`` and its codec from the
feeds' registry (``feeds.venues``); :data:`TABLE` adds, in one line per venue, the recording's
symbols (when its ``open`` records name none) and how cryptofeed runs it
(:mod:`benchmarks.cfvenues`). Per repeat, in one process:

* ours: every received frame through the real :class:`FeedSession` (the venue's codec, its
  integrity rule, checksums where the venue sends them) with a listener that does nothing;
  REST snapshots are answered from the capture's ``rest`` records before timing starts;
* cryptofeed's handler for that venue, book only, on the same frames (when installed).

Both sides must end with the same top 5 of every book both hold (the ``tops`` column counts
them). Run: ``python -m benchmarks.bench_venues [--quick] [--fixtures DIR]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import cfvenues
from benchmarks.cfvenues import Driver, Top
from feeds.book import Book
from feeds.capture import Record, read_capture
from feeds.protocol import Codec, SnapshotSource
from feeds.session import FeedSession
from feeds.venues import VENUES, replay_codec_class

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


@dataclass(frozen=True, slots=True)
class Recording:
    """What a venue's recording does not say: its symbols, and cryptofeed's driver."""

    symbols: tuple[str, ...]
    """Canonical symbols of the recording, used when its ``open`` records name none; those
    whose venue id the recording never names are left out."""
    cryptofeed: Driver | None
    """None: cryptofeed has no handler for the venue's recorded protocol."""


TABLE: dict[str, Recording] = {
    "ascendex": Recording(("ZIG/USDT", "DIVI/USDT", "XDAI/USDT", "NEO/USDT", "ROOM/USDT", "EGLD/USDT", "SRM/BTC", "CHZ/USDT", "ALTBULL/USDT", "CHR/USDT"), Driver("AscendEX")),  # noqa: E501
    "bequant": Recording(("ETH/DAI", "MKR/BTC", "BTC/EURS"), Driver("Bequant")),
    "binance": Recording(("NKN/USDT", "BLZ/ETH", "LRC/BTC", "RUNE/EUR"), Driver("Binance")),
    "binanceus": Recording(("CRV/USDT", "COMP/USDT", "OMG/BUSD", "ZRX/USDT"), Driver("BinanceUS")),
    "bitfinex": Recording(("BFT/USD", "IOT/ETH", "DOG/USD", "MNA/BTC", "ODE/USD", "TESTBTC/TESTUSD", "SNG/USD"), Driver("Bitfinex")),  # noqa: E501
    "bitflyer": Recording(("ETH/JPY", "XRP/JPY", "BTC/USD"), Driver("Bitflyer")),
    "bitstamp": Recording(("SGB/EUR", "ETH/USD", "XRP/EUR", "BAT/EUR", "USDT/EUR", "USDT/USD", "XLM/GBP", "ADA/EUR", "BAT/BTC", "GALA/EUR"), Driver("Bitstamp", start=cfvenues.bitstamp_start)),  # noqa: E501
    "bybit": Recording(("XRP/USDT",), Driver("Bybit")),
    "deribit": Recording(("ETH/USD:ETH-210730-2800-C", "BTC/USD:BTC-211231-34000-P", "BTC/USD:BTC-211231-300000-C", "BTC/USD:BTC-210730-24000-P", "BTC/USD:BTC-220325-30000-C", "BTC/USD:BTC-210924-8000-P", "BTC/USD:BTC-210924-34000-P", "BTC/USD:BTC-220624-15000-C"), Driver("Deribit")),  # noqa: E501
    "gate": Recording(("INK/USDT", "NEO/BTC", "OMG/USDT", "QTUM3S/USDT", "HAI/ETH", "DIS/USDT", "FAST/USDT", "BTC/USDC", "NANO/USDT", "ZKS/ETH"), Driver("Gateio")),  # noqa: E501
    "hitbtc": Recording(("ORN/BTC", "INSUR/BTC", "EURS/USD"), Driver("HitBTC")),
    "gemini": Recording(("BTC/GBP", "LINK/ETH", "FIL/USD", "ZEC/LTC", "BAT/BTC", "ETH/EUR", "LTC/ETH", "GRT/USD", "ANKR/USD", "ALCX/USD"), Driver("Gemini", start=cfvenues.gemini_start)),  # noqa: E501
    "htx": Recording(("PROPY/ETH", "ZEN/ETH", "TRIO/ETH", "XVG/ETH", "YFI/HUSD", "OMG/BTC", "NEST/ETH", "BOR/USDT", "FIL3S/USDT", "DOGE/ETH"), Driver("Huobi")),  # noqa: E501
    "kraken": Recording(("WAVES/EUR", "XMR/USD", "KSM/BTC", "GRT/ETH", "SC/EUR", "ETH/CHF", "OCEAN/BTC", "OMG/USD", "BTC/CHF", "ADA/BTC"), Driver("Kraken", checksums=True)),  # noqa: E501
    "kucoin": Recording(("ANKR/BTC", "NRG/BTC", "BSV/USDT", "BCHSV/USDT", "CAPP/BTC", "FET/BTC", "SNX/BTC", "DAPPT/BTC", "COV/BTC", "EQZ/BTC", "LTX/USDT"), Driver("KuCoin", start=cfvenues.kucoin_start, http=cfvenues.kucoin_bullet)),  # noqa: E501
    "okx": Recording(("BTC/USD:BTC-220527", "UNI/USD:UNI", "BTC/USDT"), Driver("OKX", checksums=True)),  # noqa: E501
    "poloniex": Recording(("BCH/USDT", "EFI/USDT", "USDJ/USDT", "DYP/USDT", "SOL/USDT", "MDT/BTC", "GRT/USDT", "GF/USDT", "BCH/BTC", "ZEC/USDT", "BTC/USDT"), Driver("Poloniex")),  # noqa: E501
    "upbit": Recording(("WAVES/KRW", "XTZ/BTC"), Driver("Upbit")),
}  # fmt: skip
"""Venue id -> its recording's symbols and cryptofeed driver, one line per venue."""

UNRECORDED = ("coinbase", "bithumb", "independentreserve")
"""Venues without a recording in tests/fixtures (their documented examples are tested)."""


@dataclass(frozen=True, slots=True)
class Case:
    """One venue's recording: the file, its symbols, our codec (None: no feed for it here)."""

    venue: str
    fixture: Path
    symbols: tuple[str, ...]
    cryptofeed: Driver | None

    def records(self) -> list[Record]:
        return list(read_capture(self.fixture))

    def codec_class(self, records: list[Record]) -> type[Codec] | None:
        """The codec of the recorded protocol (Kraken's recording is WS v1)."""
        if self.venue not in VENUES:
            return None
        urls = "\n".join(r.url for r in records if r.dir == "open").lower()
        return replay_codec_class(self.venue, urls)


def cases(fixtures: Path = FIXTURES) -> list[Case]:
    """A case per recording ``<venue>.ndjson.gz`` in ``fixtures`` of a registered venue or a
    venue of :data:`TABLE`, alphabetical."""
    found = []
    for venue in sorted(set(VENUES) | set(TABLE)):
        path = fixtures / f"{venue}.ndjson.gz"
        if not path.is_file():
            continue
        named = [s for r in read_capture(path) if r.dir == "open" for s in r.symbols or ()]
        row = TABLE.get(venue)
        symbols = tuple(dict.fromkeys(named)) or (() if row is None else row.symbols)
        found.append(Case(venue, path, symbols, None if row is None else row.cryptofeed))
    return found


def missing() -> list[str]:
    """Registered venues that cannot be benchmarked: no recording (and not in UNRECORDED),
    or a recording whose symbols nothing names (a test keeps this empty)."""
    ready = {c.venue for c in cases() if c.symbols}
    return [v for v in VENUES if v not in ready and v not in UNRECORDED]


class _Null:
    def on_book(self, book: Book, ts_ns: int) -> None:
        pass

    def on_usable(self, usable: bool, reason: str | None, ts_ns: int) -> None:
        pass


_NULL = _Null()


def session(case: Case, records: list[Record]) -> FeedSession:
    """Our session for the case, opened, REST snapshots from the capture applied."""
    cls = case.codec_class(records)
    if cls is None:
        raise LookupError(f"no feed for {case.venue}")
    codec = cls(recorded(cls, case.symbols, records))
    s = FeedSession(codec, lambda _s: _NULL, lambda *_a: None)
    s.opened(0)
    if codec.integrity.snapshot is SnapshotSource.REST:
        ids = {codec.venue_symbol(x).lower(): x for x in codec.symbols}
        for r in records:
            if r.dir != "rest":
                continue
            url = r.url.lower()
            symbol = next((x for vid, x in ids.items() if vid in url), None)
            if symbol is not None:
                body = r.data if isinstance(r.data, bytes) else r.data.encode()
                s.snapshot(symbol, body, 0)
    return s


def recorded(cls: type[Codec], symbols: Sequence[str], records: list[Record]) -> list[str]:
    """The ``symbols`` whose venue id the recording names, the first of each id (a table
    line may list two names of one product, e.g. when the codec renames an asset)."""
    text = "\n".join(f"{r.url}\n{r.data if isinstance(r.data, str) else ''}" for r in records)
    text = text.lower()  # venues write their ids in one case or another
    ids: dict[str, str] = {}
    for symbol in symbols:
        try:
            vid = cls([symbol]).venue_symbol(symbol)
        except ValueError:  # not a symbol this codec can name
            continue
        if vid.lower() in text:
            ids.setdefault(vid, symbol)
    return list(ids.values())


def ours(case: Case, records: list[Record]) -> tuple[float, FeedSession]:
    """(seconds for every received frame, the session after them)."""
    s = session(case, records)
    frames = [r.data for r in records if r.dir == "in"]
    frame = s.frame
    start = time.perf_counter()
    for i, data in enumerate(frames):
        frame(data, i)
    seconds = time.perf_counter() - start
    if s.stats.gaps or s.stats.checksum_fail:
        raise RuntimeError(f"{case.venue}: {s.stats.gaps} gaps, {s.stats.checksum_fail} bad crc")
    return seconds, s


def our_tops(s: FeedSession, n: int = 5) -> dict[str, Top]:
    """The top ``n`` of each of our books that holds levels, by venue symbol (lower case)."""
    tops = {}
    for symbol, book in s.books.items():
        bp, bq, ap, aq = book.top(n)
        if bp or ap:
            bids = tuple(zip(bp, bq, strict=True))
            tops[s.codec.venue_symbol(symbol).lower()] = (bids, tuple(zip(ap, aq, strict=True)))
    return tops


def measure(
    case: Case, repeats: int, records: list[Record] | None = None, *, target: int = 2000
) -> dict[str, object]:
    """One row: our rate, cryptofeed's, the ratio, and how many tops agree (``records``:
    the case's recording unless given). Each of the ``repeats`` samples replays the
    recording, from fresh state each time, until it has timed ``target`` frames or more; the
    sides alternate which goes first, and the ratio is the median of the samples' ratios."""
    records = case.records() if records is None else records
    frames = sum(1 for r in records if r.dir == "in")
    passes = max(1, -(-target // max(frames, 1)))
    row: dict[str, object] = {"venue": case.venue, "frames": frames, "note": ""}
    has_ours = case.codec_class(records) is not None
    has_cf = case.cryptofeed is not None and cfvenues.available()
    mine: list[float] = []
    theirs: list[float] = []
    last: FeedSession | None = None
    cf_tops: dict[str, Top] = {}
    notes = []
    for k in range(repeats + 1):  # the first round is a warm-up
        for side in ("ours", "cryptofeed") if k % 2 else ("cryptofeed", "ours"):
            spent = 0.0
            if side == "ours" and has_ours:
                try:
                    for _ in range(passes):
                        seconds, last = ours(case, records)
                        spent += seconds
                except (RuntimeError, LookupError, ValueError) as exc:  # said in the row
                    notes.append(f"ours failed: {exc}"[:120])
                    has_ours, last = False, None
                    mine.clear()
                    continue
                mine.append(passes * frames / spent)
            elif side == "cryptofeed" and has_cf and case.cryptofeed is not None:
                try:
                    for _ in range(passes):
                        seconds, cf_tops = cfvenues.replay(case.cryptofeed, records)
                        spent += seconds
                except cfvenues.errors() as exc:  # the row says why cryptofeed cannot run it
                    notes.append(f"cryptofeed failed: {type(exc).__name__}: {exc}"[:120])
                    has_cf = False
                    theirs.clear()
                    continue
                theirs.append(passes * frames / spent)
    mine, theirs = mine[1:], theirs[1:]
    if case.codec_class(records) is None:
        notes.append(f"no {case.venue} feed in this build")
    if case.cryptofeed is None:
        notes.append("cryptofeed has no handler for this recording")
    elif not cfvenues.available():
        notes.append("cryptofeed not installed (make bench)")
    row.update(_rates("", mine) | _rates("cryptofeed_", theirs))
    if last is not None:
        row["codec"] = type(last.codec).__name__
        row["book_msgs"] = last.stats.book_msgs
        row["checksums"] = last.stats.checksum_ok
    if mine and theirs:
        row["speedup"] = statistics.median(a / b for a, b in zip(mine, theirs, strict=True))
    if last is not None and cf_tops:
        mine_tops = our_tops(last)
        cf_tops = {v.lower(): top for v, top in cf_tops.items()}
        both = [v for v in mine_tops if v in cf_tops]
        same = [v for v in both if _close(mine_tops[v], cf_tops[v])]
        row["tops"] = f"{len(same)}/{len(both)}"
        if len(same) != len(both):
            notes.append("tops differ: " + ",".join(v for v in both if v not in same))
    row["note"] = "; ".join(notes)
    return row


def _close(a: Top, b: Top) -> bool:
    """The same levels (prices and sizes equal to 1e-9 relative: both parse the same text)."""
    if [len(side) for side in a] != [len(side) for side in b]:
        return False
    pairs = zip(a[0] + a[1], b[0] + b[1], strict=True)
    return all(abs(p - q) <= 1e-9 * abs(q) for x, y in pairs for p, q in zip(x, y, strict=True))


def _rates(prefix: str, rates: list[float]) -> dict[str, object]:
    if not rates:
        return {}
    return {
        f"{prefix}msgs_per_s_min": min(rates),
        f"{prefix}msgs_per_s_median": statistics.median(rates),
        f"{prefix}msgs_per_s_max": max(rates),
    }


def _fmt(value: object) -> str:
    return "-" if value is None else f"{float(value):,.0f}"  # type: ignore[arg-type]


def table(rows: list[dict[str, object]]) -> list[str]:
    """The printed table: frames per second, median of the repeats."""
    w = max([10, *(len(str(r["venue"])) + 1 for r in rows)])  # the longest id and a space
    lines = [
        f"{'venue':<{w}}{'frames':>7}{'book':>6}{'crc ok':>7}{'ours msg/s':>12}"
        f"{'cryptofeed':>12}{'ours/cf':>8}{'tops':>6}  note"
    ]
    for r in rows:
        speedup = r.get("speedup")
        lines.append(
            f"{r['venue']!s:<{w}}{r['frames']!s:>7}{r.get('book_msgs', '-')!s:>6}"
            f"{r.get('checksums', '-')!s:>7}{_fmt(r.get('msgs_per_s_median')):>12}"
            f"{_fmt(r.get('cryptofeed_msgs_per_s_median')):>12}"
            f"{'-' if speedup is None else f'{float(speedup):.1f}x'!s:>8}"  # type: ignore[arg-type]
            f"{r.get('tops', '-')!s:>6}  {r['note']}".rstrip()
        )
    return lines


def run(quick: bool = False, fixtures: Path = FIXTURES) -> list[dict[str, object]]:
    """One row per recording, then one per registered venue without one."""
    repeats = 3 if quick else 9
    rows = [measure(case, repeats) for case in cases(fixtures)]
    recorded = {r["venue"] for r in rows}
    absent = [v for v in VENUES if v not in recorded]
    rows += [{"venue": v, "frames": 0, "note": "no recording in tests/fixtures"} for v in absent]
    print("\n".join(table(rows)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_venues", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 9")
    parser.add_argument(
        "--fixtures", type=Path, default=FIXTURES, help="folder of <venue>.ndjson.gz recordings"
    )
    args = parser.parse_args(argv)
    rows = run(args.quick, args.fixtures)
    # the comparison holds only if both sides built the same books
    return 1 if any("tops differ" in str(r.get("note", "")) for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
