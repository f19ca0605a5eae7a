"""Console accounts on SQLite and PostgreSQL: users with roles, Argon2id hashes, sessions that
expire (absolutely and when idle), CSRF tokens bound to the session, sign-in refused after
repeated failures, and an audit log that records who did what."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from accounts_testkit import PASSWORD, fast_service
from sqlalchemy import Engine, select

from batpass.accounts import MAX_FAILURES, MIGRATIONS_DIR, AccountService, AlertState, Role, SignInRefused, _sql
from batpass.core.errors import Conflict, InvalidInput, NotFound

MakeStore = Callable[[Sequence[Path]], Engine]


@pytest.fixture
def svc(make_store: MakeStore) -> AccountService:
    return fast_service(make_store([MIGRATIONS_DIR]))[0]


def test_a_user_signs_in_and_the_password_is_stored_only_as_an_argon2id_hash(svc: AccountService) -> None:
    svc.add_user("aiko", "operator", PASSWORD)
    with svc.engine.connect() as conn:
        stored = conn.execute(select(_sql.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token, session = svc.sign_in("aiko", PASSWORD)
    assert session.user.role is Role.OPERATOR
    again = svc.session(token)
    assert again is not None and again.user.name == "aiko" and again.csrf == session.csrf
    with svc.engine.connect() as conn:
        assert token not in str(conn.execute(select(_sql.sessions)).all())  # only its hash is kept


def test_wrong_password_and_unknown_name_are_refused_the_same_way(svc: AccountService) -> None:
    svc.add_user("aiko", "viewer", PASSWORD)
    with pytest.raises(SignInRefused, match="wrong user name or password"):
        svc.sign_in("aiko", "not the password")
    with pytest.raises(SignInRefused, match="wrong user name or password"):
        svc.sign_in("nobody", PASSWORD)
    outcomes = [(e.action, e.target, e.outcome) for e in svc.audit_log()]
    assert ("sign-in", "aiko", "refused") in outcomes and ("sign-in", "nobody", "refused") in outcomes


def test_repeated_failures_lock_the_name_even_for_the_right_password(svc: AccountService) -> None:
    svc.add_user("aiko", "viewer", PASSWORD)
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInRefused):
            svc.sign_in("aiko", "guess guess guess")
    with pytest.raises(SignInRefused) as refused:
        svc.sign_in("aiko", PASSWORD)
    assert refused.value.locked


def test_the_lock_lifts_after_the_window(make_store: MakeStore) -> None:
    svc, clock = fast_service(make_store([MIGRATIONS_DIR]))
    svc.add_user("aiko", "viewer", PASSWORD)
    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInRefused):
            svc.sign_in("aiko", "guess guess guess")
    clock.advance(dt.timedelta(minutes=16))
    assert svc.sign_in("aiko", PASSWORD)[1].user.name == "aiko"


def test_a_session_ends_when_idle_and_at_its_lifetime(make_store: MakeStore) -> None:
    svc, clock = fast_service(make_store([MIGRATIONS_DIR]))
    svc.add_user("aiko", "viewer", PASSWORD)
    token, _ = svc.sign_in("aiko", PASSWORD)
    clock.advance(dt.timedelta(minutes=29))
    assert svc.session(token) is not None  # in use: the idle timer starts again
    clock.advance(dt.timedelta(minutes=29))
    assert svc.session(token) is not None
    clock.advance(dt.timedelta(minutes=31))
    assert svc.session(token) is None  # idle for 31 minutes
    token, _ = svc.sign_in("aiko", PASSWORD)
    for _ in range(20):  # busy all day: the lifetime (8 h) still ends it
        clock.advance(dt.timedelta(minutes=25))
        svc.session(token)
    assert svc.session(token) is None
    assert svc.session("made-up") is None and svc.session(None) is None


def test_csrf_token_is_bound_to_its_session(svc: AccountService) -> None:
    svc.add_user("aiko", "viewer", PASSWORD)
    svc.add_user("ben", "viewer", PASSWORD)
    _, mine = svc.sign_in("aiko", PASSWORD)
    _, theirs = svc.sign_in("ben", PASSWORD)
    assert svc.csrf_ok(mine, mine.csrf)
    assert not svc.csrf_ok(mine, theirs.csrf)
    assert not svc.csrf_ok(mine, None) and not svc.csrf_ok(mine, "")


def test_sign_out_ends_the_session(svc: AccountService) -> None:
    svc.add_user("aiko", "viewer", PASSWORD)
    token, _ = svc.sign_in("aiko", PASSWORD)
    svc.sign_out(token)
    assert svc.session(token) is None
    assert svc.audit_log()[0].action == "sign-out"


def test_bad_users_are_refused_and_nothing_is_stored(svc: AccountService) -> None:
    with pytest.raises(InvalidInput) as bad:
        svc.add_user("aiko", "superuser", PASSWORD)
    assert bad.value.field == "role"
    with pytest.raises(InvalidInput) as bad:
        svc.add_user("aiko", "viewer", "short")
    assert bad.value.field == "password"
    with pytest.raises(InvalidInput) as bad:
        svc.add_user("a b", "viewer", PASSWORD)
    assert bad.value.field == "name"
    assert svc.users() == []
    svc.add_user("aiko", "viewer", PASSWORD)
    with pytest.raises(Conflict):
        svc.add_user("aiko", "admin", PASSWORD)
    assert [u.role for u in svc.users()] == [Role.VIEWER]


def test_removing_a_user_ends_their_sessions_and_keeps_the_audit_log(svc: AccountService) -> None:
    svc.add_user("aiko", "admin", PASSWORD, operator="op-1")
    assert svc.user("aiko").operator == "op-1"
    token, _ = svc.sign_in("aiko", PASSWORD)
    svc.remove_user("aiko")
    assert svc.session(token) is None
    with pytest.raises(NotFound):
        svc.remove_user("aiko")
    assert [e.action for e in svc.audit_log(user="aiko")] == ["sign-in"]


def test_alerts_are_acknowledged_then_resolved_with_notes_in_the_audit_log(svc: AccountService) -> None:
    svc.set_alert_state("aiko", "outflow:did:web:x:1", AlertState.ACKNOWLEDGED, "looking into it")
    svc.set_alert_state("aiko", "outflow:did:web:x:1", AlertState.RESOLVED, "licence found")
    state, note, user, _ = svc.alert_states()["outflow:did:web:x:1"]
    assert (state, note, user) == (AlertState.RESOLVED, "licence found", "aiko")
    with pytest.raises(Conflict):
        svc.set_alert_state("aiko", "outflow:did:web:x:1", AlertState.ACKNOWLEDGED, "again")
    log = [(e.action, e.note) for e in svc.audit_log(user="aiko")]
    assert log == [("alert.resolved", "licence found"), ("alert.acknowledged", "looking into it")]


def test_the_node_hashes_with_argon2id_at_the_documented_cost(make_store: MakeStore) -> None:
    svc = AccountService(make_store([MIGRATIONS_DIR]))  # the node's own parameters, not the tests' fast ones
    svc.add_user("aiko", "viewer", PASSWORD)
    with svc.engine.connect() as conn:
        stored = conn.execute(select(_sql.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # docs/console.md: 64 MiB, 3 passes, 4 lanes
    assert svc.sign_in("aiko", PASSWORD)[1].user.name == "aiko"


def test_audit_entries_written_within_one_millisecond_are_listed_newest_first(
    svc: AccountService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries sharing their timestamp (the service's clock) and the millisecond their time-ordered
    ids are taken in (the process clock, held still here) are listed newest first as written, on
    both stores: the rest of an id was random, so such entries were listed shuffled."""
    frozen = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: frozen)
    for n in range(12):
        svc.record("otto", "passport.open", f"urn:uuid:{n}", "ok", note=f"n{n}")
    monkeypatch.undo()
    log = svc.audit_log(limit=50)
    assert [e.note for e in log] == [f"n{n}" for n in reversed(range(12))]
    assert len({e.at for e in log}) == 1
