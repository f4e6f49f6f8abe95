"""How many cases a fuzz test runs: its own small number in ``make test``, at least
``ARBSCAN_FUZZ_CASES`` (10,000 in ``make fuzz``) in a dedicated run.

Every fuzz test is named ``test_fuzz_*`` and decorated with ``@fuzz_settings(n)``, so ``make fuzz``
finds them all with ``-k fuzz``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_CASES = int(os.environ.get("ARBSCAN_FUZZ_CASES", "0"))


def fuzz_settings(quick: int) -> settings:
    """Hypothesis settings: ``quick`` cases, or ``ARBSCAN_FUZZ_CASES`` when that is larger."""
    return settings(
        max_examples=max(quick, FUZZ_CASES),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
