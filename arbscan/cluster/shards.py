"""Which worker scans which symbol, and the lease rules that keep it to one worker at a time.

Sans-I/O: no clock, no NATS. The worker's shell (:mod:`arbscan.cluster.worker`) reads the live
workers and the clock, calls :meth:`Leases.plan`, executes the operations it returns against
the key-value bucket (revision-checked), and reports each result back.

**Assignment.** :func:`assign` spreads the symbols over the live workers by rendezvous
hashing with bounded load: each symbol ranks the workers by a hash of (symbol, worker) and
goes to the best-ranked one that still has room (``floor`` of the mean, and ``floor + 1`` for
as many workers as the remainder allows). Every worker computes the same answer from the same
set of names; every worker gets ``floor`` or ``ceil`` of the mean; when a worker joins or
leaves, most symbols stay where they were.

**Families.** The unit assigned is a *family* (:func:`family`): the symbols of one base asset
in every quote (BTC/USD, BTC/USDT, BTC/KRW), so the cross-quote pairs and the premiums of a
base are always computed by one worker. A *conversion book* (base and quote both currencies:
USDT/USD, USDT/KRW) is a unit of its own; its owner publishes it for the others
(:mod:`arbscan.cluster.fx`). The balance is then in families, not symbols.

**Leases.** A lease is a key ``lease.<symbol>`` whose value names the owner, in a bucket whose
entries expire ``ttl`` after their last write. Taking one is a create (fails while it
exists), renewing one an update against the revision held (fails if it changed), releasing
one a delete against that revision. The timing rule that keeps two workers from scanning
one symbol at once:

* a write sent at local time ``t`` lands on the server at ``t' >= t``; the entry lives until
  at least ``t' + ttl >= t + ttl``, and nobody else can create the key before then;
* so the owner scans a symbol only while ``now < sent + ttl - margin``, ``sent`` being the
  send time of its last confirmed write: past that, it stops the shard locally (its open
  opportunities close with reason ``shutdown``) *before* the entry can expire. ``margin``
  covers the tick period and the clock-rate difference between machines over ``ttl``;
* it renews every ``ttl / 3``, so two renewals can fail before the deadline;
* a worker that gives a symbol up (the assignment moved it) stops the shard first, then
  deletes the key; the new owner's create succeeds only after that delete or the expiry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass


def _rank(symbol: str, worker: str) -> bytes:
    return hashlib.blake2b(f"{symbol}\0{worker}".encode(), digest_size=8).digest()


def is_conversion(symbol: str, currencies: Collection[str]) -> bool:
    """Whether ``symbol`` converts one currency into another (USDT/USD, USDC/USDT, USDT/KRW):
    a shared input of the cluster."""
    base, _, quote = symbol.partition("/")
    return base in currencies and quote in currencies


def family(symbol: str, currencies: Collection[str]) -> str:
    """The unit ``symbol`` is assigned with: its base (``BTC`` for BTC/USD, BTC/USDT...), or
    the symbol itself for a conversion book."""
    return symbol if is_conversion(symbol, currencies) else symbol.partition("/")[0]


def assign(
    symbols: Sequence[str],
    workers: Iterable[str],
    unit: Callable[[str], str] | None = None,
) -> dict[str, list[str]]:
    """Each worker's symbols (in the order of ``symbols``). The symbols of one ``unit``
    (default: each symbol its own) go to one worker; the units are balanced to within one."""
    names = sorted(set(workers))
    out: dict[str, list[str]] = {w: [] for w in names}
    if not names:
        return out
    key = unit or (lambda symbol: symbol)
    units: dict[str, list[str]] = {}
    for symbol in symbols:
        units.setdefault(key(symbol), []).append(symbol)
    count = dict.fromkeys(names, 0)
    owner_of: dict[str, str] = {}
    base, extra = divmod(len(units), len(names))
    for name in units:
        ranked = sorted(names, key=lambda w: _rank(name, w), reverse=True)
        owner = next(w for w in ranked if count[w] < base or (count[w] == base and extra))
        if count[owner] == base:
            extra -= 1
        count[owner] += 1
        owner_of[name] = owner
    for symbol in symbols:
        out[owner_of[key(symbol)]].append(symbol)
    return out


def lease_key(symbol: str) -> str:
    """The bucket key of ``symbol``'s lease (``BTC/USDT`` -> ``lease.BTC-USDT``)."""
    return "lease." + symbol.replace("/", "-")


@dataclass(frozen=True, slots=True)
class Op:
    """One operation for the shell: ``kind`` is ``start`` or ``stop`` (the shard's scanning),
    ``acquire``, ``renew`` or ``release`` (the lease, with the revision held)."""

    kind: str
    symbol: str
    revision: int = 0


@dataclass(slots=True)
class _Held:
    revision: int
    sent_ns: int
    """Local send time of the last confirmed write."""
    pending: bool = False
    """A renewal is in flight."""


class Leases:
    """One worker's leases: what it holds, what it should hold, what to do next."""

    def __init__(
        self,
        name: str,
        symbols: Sequence[str],
        ttl_ns: int,
        margin_ns: int,
        unit: Callable[[str], str] | None = None,
    ) -> None:
        """``unit``: the family of a symbol (:func:`assign`)."""
        if not 0 < margin_ns < ttl_ns // 3:
            raise ValueError(f"the margin must be > 0 and < ttl / 3 (ttl {ttl_ns} ns)")
        self.name = name
        self.symbols = list(symbols)
        self.ttl_ns = ttl_ns
        self.margin_ns = margin_ns
        self.unit = unit
        self.held: dict[str, _Held] = {}
        self.acquiring: set[str] = set()

    def deadline(self, symbol: str) -> int:
        """Local time by which ``symbol``'s shard must have stopped."""
        return self.held[symbol].sent_ns + self.ttl_ns - self.margin_ns

    def plan(self, now_ns: int, live: Iterable[str]) -> list[Op]:
        """The operations due at ``now_ns`` with ``live`` workers (this one counts as live)."""
        wanted = set(assign(self.symbols, {*live, self.name}, self.unit)[self.name])
        ops = self.expire(now_ns)
        for symbol in list(self.held):
            held = self.held[symbol]
            if symbol not in wanted:
                del self.held[symbol]
                ops += [Op("stop", symbol), Op("release", symbol, held.revision)]
            elif not held.pending and now_ns - held.sent_ns >= self.ttl_ns // 3:
                held.pending = True
                ops.append(Op("renew", symbol, held.revision))
        for symbol in self.symbols:
            if symbol in wanted and symbol not in self.held and symbol not in self.acquiring:
                self.acquiring.add(symbol)
                ops.append(Op("acquire", symbol))
        return ops

    def expire(self, now_ns: int) -> list[Op]:
        """Stop every shard whose renewals failed until its deadline (before the entry can
        expire in the bucket and another worker take it)."""
        late = [s for s in self.held if now_ns >= self.deadline(s)]
        for symbol in late:
            del self.held[symbol]
        return [Op("stop", s) for s in late]

    def acquired(self, symbol: str, revision: int | None, sent_ns: int) -> list[Op]:
        """The create sent at ``sent_ns`` succeeded (``revision``) or failed (None)."""
        self.acquiring.discard(symbol)
        if revision is None:
            return []
        self.held[symbol] = _Held(revision, sent_ns)
        return [Op("start", symbol)]

    def renewed(self, symbol: str, revision: int | None, sent_ns: int) -> list[Op]:
        """The update sent at ``sent_ns`` succeeded (``revision``) or failed (None: the key
        changed, so someone else may own it: stop at once)."""
        held = self.held.get(symbol)
        if held is None:  # stopped meanwhile (deadline or reassignment)
            return []
        if revision is None:
            del self.held[symbol]
            return [Op("stop", symbol)]
        held.revision, held.sent_ns, held.pending = revision, sent_ns, False
        return []

    def renew_unanswered(self, symbol: str) -> None:
        """The update got no answer (NATS unreachable): retry at the next plan; the deadline
        still runs from the last confirmed write."""
        held = self.held.get(symbol)
        if held is not None:
            held.pending = False

    def stop_all(self) -> list[Op]:
        """At shutdown: stop every shard, then release its lease."""
        ops: list[Op] = []
        for symbol, held in self.held.items():
            ops += [Op("stop", symbol), Op("release", symbol, held.revision)]
        self.held.clear()
        return ops
