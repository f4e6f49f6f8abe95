"""Validate emitted events against ``scanner/events.schema.json`` (used by every test that emits).

``check(event)`` validates one event dict exactly as it would be written: the dict is serialized
with orjson and parsed back, so a value that orjson cannot write (a numpy scalar, NaN) fails too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import jsonschema
import orjson

from scanner.events import schema


@cache
def _validator() -> Any:
    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def check(event: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``event`` is a valid schema-1 event line."""
    line = orjson.dumps(event)  # TypeError for anything orjson cannot serialize
    _validator().validate(orjson.loads(line))


def check_all(events: Iterable[Mapping[str, Any]]) -> None:
    """``check`` each event."""
    for event in events:
        check(event)


def is_valid(event: Mapping[str, Any]) -> bool:
    """True if ``event`` validates (for tests that assert a bad event is rejected)."""
    try:
        check(event)
    except jsonschema.ValidationError:
        return False
    return True
