"""Property tests must not fail because the machine is slow (cold caches, 2 shared cores in CI).

The first run on a fresh machine once failed with FailedHealthCheck (too_slow: 1 input in 1.49 s);
tests/conftest.py loads a profile without timing checks.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_the_loaded_profile_has_no_timing_checks() -> None:
    assert settings.default.deadline is None
    assert HealthCheck.too_slow in settings.default.suppress_health_check


def slow(value: int) -> int:
    time.sleep(0.25)  # every input takes as long to make as the first one did on a cold machine
    return value


def test_slow_input_generation_is_no_failure() -> None:
    # A test's own @settings keeps the profile's values for what it does not name.
    @settings(max_examples=10)
    @given(st.integers().map(slow))
    def check(value: int) -> None:
        assert isinstance(value, int)

    check()


def test_a_slow_test_body_is_no_failure() -> None:
    @settings(max_examples=3)
    @given(st.integers())
    def check(value: int) -> None:
        time.sleep(0.25)  # slower than Hypothesis's default deadline (200 ms), as on a loaded machine
        assert isinstance(value, int)

    check()
