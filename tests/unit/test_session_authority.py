"""When a remote session must end because the authority behind it ended, and when a refused PC can
be connected to again (pure parts; the gateway's use of them is tested in tests/integration)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from jiseki.config import AuthConfig
from jiseki.gateway.authority import Authority, end_reason
from jiseki.gateway.db.models import User, WebSession
from jiseki.gateway.end_reasons import EndReason
from jiseki.gateway.policy import JST, Policy, combine, next_allowed, time_denial

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # Monday 12:00 in Japan
CONFIG = AuthConfig(session_idle_seconds=1800, session_max_seconds=12 * 3600)


def _user(**values: object) -> User:
    return User(**{"id": "alice", "disabled": False, "totp_enabled": True, "must_change_password": False, **values})


def _web(terminal: str = "term-1", stage: str = "full", idle: float = 10, left: float = 3600) -> WebSession:
    return WebSession(
        id="x",
        user_id="alice",
        terminal_id=terminal,
        stage=stage,
        last_seen_at=NOW - dt.timedelta(seconds=idle),
        expires_at=NOW + dt.timedelta(seconds=left),
    )


def test_a_valid_login_on_the_same_terminal_keeps_the_session() -> None:
    assert end_reason(Authority(_user(), (_web(),)), "term-1", CONFIG, NOW) is None


def test_logout_or_a_login_on_another_terminal_only_ends_it() -> None:
    assert end_reason(Authority(_user(), ()), "term-1", CONFIG, NOW) == EndReason.LOGGED_OUT
    assert end_reason(Authority(_user(), (_web("term-2"),)), "term-1", CONFIG, NOW) == EndReason.LOGGED_OUT
    # A login still waiting for its one-time code is no authority for a remote session.
    assert end_reason(Authority(_user(), (_web(stage="totp_enroll"),)), "term-1", CONFIG, NOW) == EndReason.LOGGED_OUT


def test_idle_or_absolute_expiry_of_the_login_ends_it() -> None:
    idle = _web(idle=CONFIG.session_idle_seconds + 1)
    old = _web(left=-1)
    assert end_reason(Authority(_user(), (idle,)), "term-1", CONFIG, NOW) == EndReason.LOGIN_EXPIRED
    assert end_reason(Authority(_user(), (old,)), "term-1", CONFIG, NOW) == EndReason.LOGIN_EXPIRED
    assert end_reason(Authority(_user(), (old, _web())), "term-1", CONFIG, NOW) is None


def test_disabled_deleted_or_reset_accounts_end_it() -> None:
    assert end_reason(Authority(_user(disabled=True), (_web(),)), "term-1", CONFIG, NOW) == EndReason.ACCOUNT_DISABLED
    assert end_reason(Authority(None, ()), "term-1", CONFIG, NOW) == EndReason.ACCOUNT_DISABLED
    reset_pw = _user(must_change_password=True)
    reset_code = _user(totp_enabled=False)
    assert end_reason(Authority(reset_pw, ()), "term-1", CONFIG, NOW) == EndReason.LOGIN_REQUIRED
    assert end_reason(Authority(reset_code, ()), "term-1", CONFIG, NOW) == EndReason.LOGIN_REQUIRED


def test_final_reasons_never_include_what_may_heal_by_itself() -> None:
    for transient in (EndReason.NETWORK, EndReason.HOST_DISCONNECTED, EndReason.HOST_OFFLINE, EndReason.HOST_TIMEOUT):
        assert transient not in EndReason.FINAL
    for final in ("idle", "max_length", "hours", "days", "admin", "account_disabled", "logged_out", "policy_change"):
        assert final in EndReason.FINAL


def _jst(y: int, mo: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=JST)


def test_next_allowed_time_after_hours_and_on_days_off() -> None:
    office = combine([Policy("department:総務課", days="mon,tue,wed,thu,fri", start="08:00", end="20:00")])
    assert next_allowed(office, _jst(2026, 12, 7, 12)) == _jst(2026, 12, 7, 12)  # allowed now: now
    assert next_allowed(office, _jst(2026, 12, 7, 21)) == _jst(2026, 12, 8, 8)  # Monday evening → Tuesday 8:00
    assert next_allowed(office, _jst(2026, 12, 11, 22)) == _jst(2026, 12, 14, 8)  # Friday night → Monday
    assert next_allowed(office, _jst(2026, 12, 12, 10)) == _jst(2026, 12, 14, 8)  # Saturday → Monday
    night = combine([Policy("host_group:夜間", start="22:00", end="06:00")])
    assert next_allowed(night, _jst(2026, 12, 7, 12)) == _jst(2026, 12, 7, 22)
    never = combine([Policy("a", days="mon"), Policy("b", days="tue")])
    assert next_allowed(never, _jst(2026, 12, 7, 12)) is None


@given(
    days=st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1),
    start=st.integers(0, 23 * 60 + 59),
    end=st.integers(0, 23 * 60 + 59),
    offset=st.integers(0, 14 * 24 * 60),
)
def test_next_allowed_is_allowed_and_nothing_earlier_is(days: set[str], start: int, end: int, offset: int) -> None:
    hhmm = [f"{m // 60:02d}:{m % 60:02d}" for m in (start, end)]
    eff = combine([Policy("p", days=",".join(sorted(days)), start=hhmm[0], end=hhmm[1])])
    now = _jst(2026, 12, 1, 0) + dt.timedelta(minutes=offset, seconds=17)
    found = next_allowed(eff, now)
    assert found is not None
    assert found >= now and time_denial(eff, found) is None
    probe = now  # allowed time starts on whole minutes: looking at each minute before it is enough
    while probe < found:
        assert time_denial(eff, probe) is not None
        probe += dt.timedelta(minutes=1)
