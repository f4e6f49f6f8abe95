"""The [quotes] and [identity] config tables: defaults, values, and one message per mistake
naming its key (exit status 2 from the command line)."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from arbscan import cli
from feeds.venues import canonical_venue
from scanner.config import ConfigError, FixedRate, QuotesConfig, parse_config

GOOD = """
[quotes]
groups = [["USD", "USDT"], ["EUR", "EURC"]]
fx_max_age_ms = 2000
max_gross_bps = 500
[quotes.fx.KRW]
per_usd = 1380.0
set_at = 2026-12-05T00:00:00Z
[identity]
equal = ["huobipro:GTC"]
"""


def test_defaults_and_values() -> None:
    assert parse_config({}).quotes == QuotesConfig()
    assert QuotesConfig().groups == (("USD", "USDT", "USDC", "FDUSD"),)
    assert QuotesConfig().max_gross_bps == 1000.0
    config = parse_config(tomllib.loads(GOOD), venue=canonical_venue)
    q = config.quotes
    assert q.groups == (("USD", "USDT"), ("EUR", "EURC"))
    assert (q.fx_max_age_ms, q.max_gross_bps) == (2000, 500.0)
    set_ns = int(dt.datetime(2026, 12, 5, tzinfo=dt.UTC).timestamp()) * 10**9
    assert q.fx == {"KRW": FixedRate(1380.0, set_ns)}
    assert config.identity.equal == (("htx", "GTC"),)  # the old id resolved
    assert config.identity.metadata is False


Q, FX = "[quotes]\n", "[quotes.fx.KRW]\n"
BAD = [
    (Q + "max_gross_bps = 'x'", "quotes.max_gross_bps: expected a number, got 'x'"),
    (Q + "fx_max_age_ms = -1",
     "quotes.fx_max_age_ms: must be between 0 and 8.64e+07, got -1"),
    (Q + "colour = 1", "quotes.colour: unknown key (known: groups, fx_max_age_ms, "
     "max_gross_bps, premium_interval_ms, premium_update_bps, fx)"),
    (Q + "groups = [['USD']]",
     "quotes.groups: expected a list of lists of 2+ quotes, got [['USD']]"),
    (Q + "groups = [['USD', 'usdt']]",
     "quotes.groups: 'usdt' is not an upper-case asset code"),
    (Q + "groups = [['USD', 'USDT'], ['USDT', 'EUR']]",
     "quotes.groups: 'USDT' is in more than one group"),
    (FX + "per_usd = 0\nset_at = 2026-12-05T00:00:00Z",
     "quotes.fx.KRW.per_usd: must be > 0, got 0"),
    (FX + "per_usd = 1380",
     "quotes.fx.KRW: expected exactly the keys per_usd and set_at"),
    (FX + "per_usd = 1380\nset_at = 2026-12-05",
     "quotes.fx.KRW.set_at: expected an offset date-time (2026-12-05T00:00:00Z), "
     "got datetime.date(2026, 12, 5)"),
    ("[identity]\nequal = ['GTC']", "identity.equal: 'GTC' is not \"venue:TICKER\""),
    ("[identity]\nequal = ['nowhere:GTC']",
     "identity.equal: 'nowhere:GTC': unknown venue 'nowhere'"),
    ("[identity]\nmetadata = 'yes'", "identity.metadata: expected true or false, got 'yes'"),
    ("[identity]\ncache = 1",
     "identity.cache: unknown key (known: equal, metadata, metadata_cache)"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_each_mistake_names_its_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(tomllib.loads(text), venue=canonical_venue)
    assert str(err.value).startswith(message)


def test_the_command_line_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[quotes]\nmax_gross_bps = -5\n")
    assert cli.main(["--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "run.py: quotes.max_gross_bps: must be between 0 and inf, got -5\n"
    )
