# Generated from tests/aio/test_auth.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
"""Auth against a real server: every call of `client.auth`, its happy and its error paths."""

from __future__ import annotations

import pytest

from basalt import Client, BasaltError, FileStorage, MemoryStorage, MfaRequired, Session
from tests.sync.conftest import ClientFactory
from tests.helpers import PASSWORD, Server, totp, unique_email


def test_sign_up_sign_in_sign_out(sync_clients: ClientFactory) -> None:
    c = sync_clients()
    events: list[str] = []
    c.auth.on_change(lambda e, s: events.append(e))
    email = unique_email("flow")
    r = c.auth.sign_up(email=email, password=PASSWORD, data={"name": "Ada"})
    assert r.session is not None and r.user.email == email and r.user.data == {"name": "Ada"}
    assert c.auth.user is not None and c.auth.user.id == r.user.id
    me = c.auth.get_user()
    assert me.id == r.user.id and not me.anonymous
    c.auth.sign_out()
    assert c.auth.session is None and c.auth.user is None
    s = c.auth.sign_in(email=email, password=PASSWORD)
    assert isinstance(s, Session) and s.user.id == r.user.id
    assert events == ["signed_in", "user_updated", "signed_out", "signed_in"]


def test_wrong_password_and_duplicate_email(sync_clients: ClientFactory) -> None:
    c = sync_clients()
    email = unique_email("dup")
    c.auth.sign_up(email=email, password=PASSWORD)
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.sign_up(email=email, password=PASSWORD)
    assert e.value.status == 409 and e.value.code == "already_exists"
    assert e.value.request_id
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.sign_in(email=email, password="wrong password!!")
    assert e.value.status == 401 and e.value.code == "unauthenticated"
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.sign_up(email=unique_email(), password="short")
    assert e.value.status == 400 and e.value.code == "invalid_argument"
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.get_user()
    assert e.value.code == "unauthenticated"


def test_anonymous_user_upgrades_in_place(sync_clients: ClientFactory) -> None:
    c = sync_clients()
    s = c.auth.sign_in_anonymously()
    assert s.user.anonymous
    email = unique_email("anon")
    u = c.auth.update_user(email=email, password=PASSWORD, data={"plan": "free"})
    assert u.id == s.user.id and u.email == email and not u.anonymous and u.data == {"plan": "free"}
    assert c.auth.user is not None and c.auth.user.email == email


def test_refresh_rotates_and_old_token_is_refused(sync_clients: ClientFactory) -> None:
    storage = MemoryStorage()
    c = sync_clients(storage=storage, storage_key="k", auto_refresh=False)
    events: list[str] = []
    c.auth.on_change(lambda e, s: events.append(e))
    first = (c.auth.sign_up(email=unique_email("rot"), password=PASSWORD)).session
    assert first is not None
    second = c.auth.refresh()
    assert second.refresh_token != first.refresh_token and second.user.id == first.user.id
    assert storage.get_item("k") is not None and second.refresh_token in (storage.get_item("k") or "")
    # A second client holding the spent token: the server refuses it and that client is signed out.
    stale = MemoryStorage()
    import json

    stale.set_item("k", json.dumps(first.to_json()))
    other = sync_clients(storage=stale, storage_key="k", auto_refresh=False)
    with pytest.raises(BasaltError) as e:
        other.auth.refresh()
    assert e.value.status == 401
    assert other.auth.session is None and stale.get_item("k") is None
    assert events == ["signed_in", "token_refreshed"]


def test_refresh_when_signed_out_is_unauthenticated(sync_clients: ClientFactory) -> None:
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.refresh()
    assert e.value.code == "unauthenticated"


def test_session_survives_in_file_storage(sync_clients: ClientFactory, tmp_path: object) -> None:
    storage = FileStorage(str(tmp_path))
    c = sync_clients(storage=storage)
    r = c.auth.sign_up(email=unique_email("file"), password=PASSWORD)
    again = sync_clients(storage=FileStorage(str(tmp_path)))
    assert again.auth.user is not None and again.auth.user.id == r.user.id
    assert (again.auth.get_user()).id == r.user.id


def test_sessions_list_and_end(sync_clients: ClientFactory) -> None:
    email = unique_email("sess")
    a = sync_clients()
    a.auth.sign_up(email=email, password=PASSWORD)
    b = sync_clients()
    b.auth.sign_in(email=email, password=PASSWORD)
    listed = a.auth.sessions()
    assert len(listed) == 2 and sum(1 for s in listed if s.current) == 1
    other = next(s for s in listed if not s.current)
    a.auth.end_session(other.id)
    with pytest.raises(BasaltError) as e:
        b.auth.get_user()
    assert e.value.code == "unauthenticated"
    with pytest.raises(BasaltError) as e:
        a.auth.end_session("no-such-session")
    assert e.value.code in ("not_found", "invalid_argument")


def test_password_change_needs_current_password(sync_user: Client) -> None:
    with pytest.raises(BasaltError) as e:
        sync_user.auth.update_user(password="a new long password")
    assert e.value.status in (400, 401, 403)
    u = sync_user.auth.update_user(password="a new long password", current_password=PASSWORD)
    assert u.id == (sync_user.auth.user.id if sync_user.auth.user else None)


def test_magic_link_and_password_reset(sync_clients: ClientFactory, server: Server) -> None:
    email = unique_email("link")
    c = sync_clients()
    c.auth.send_magic_link(email=email)
    s = c.auth.verify_magic_link(server.mail_token(email, "sign|link|magic"))
    assert isinstance(s, Session) and s.user.email == email
    with pytest.raises(BasaltError) as e:
        c.auth.verify_magic_link("not-a-token")
    assert e.value.status in (400, 401)
    c.auth.send_password_reset(email=email)
    sync_clients().auth.reset_password(
        token=server.mail_token(email, "reset|password"), password="brand new pass"
    )
    signed = sync_clients().auth.sign_in(email=email, password="brand new pass")
    assert isinstance(signed, Session)
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.reset_password(token="bogus", password="brand new pass")
    assert e.value.status in (400, 401)


def test_email_verification(sync_clients: ClientFactory, server: Server) -> None:
    email = unique_email("ver")
    c = sync_clients()
    c.auth.sign_up(email=email, password=PASSWORD)
    assert c.auth.user is not None and not c.auth.user.email_verified
    c.auth.send_verification()
    u = c.auth.verify_email(server.mail_token(email, "verif|confirm"))
    assert u.email_verified and c.auth.user is not None and c.auth.user.email_verified
    with pytest.raises(BasaltError) as e:
        sync_clients().auth.send_verification()
    assert e.value.code == "invalid_argument"


def test_mfa_enroll_confirm_verify_disable(sync_clients: ClientFactory) -> None:
    email = unique_email("mfa")
    c = sync_clients()
    c.auth.sign_up(email=email, password=PASSWORD)
    enrol = c.auth.mfa.enroll(current_password=PASSWORD)
    assert enrol.secret and enrol.otpauth_url.startswith("otpauth://") and enrol.recovery_codes
    with pytest.raises(BasaltError):
        c.auth.mfa.confirm("000000" if totp(enrol.secret) != "000000" else "111111")
    u = c.auth.mfa.confirm(totp(enrol.secret))
    assert u.mfa_enabled
    half = sync_clients().auth.sign_in(email=email, password=PASSWORD)
    assert isinstance(half, MfaRequired) and half.mfa_token
    second = sync_clients()
    with pytest.raises(BasaltError) as e:
        second.auth.mfa.verify(mfa_token=half.mfa_token, code="12345x")
    assert e.value.status in (400, 401)
    again = second.auth.sign_in(email=email, password=PASSWORD)
    assert isinstance(again, MfaRequired)
    full = second.auth.mfa.verify(mfa_token=again.mfa_token, code=totp(enrol.secret, 1))
    assert full.user.mfa_enabled
    off = second.auth.mfa.disable()
    assert not off.mfa_enabled


def test_oauth_url_and_redirect(sync_clients: ClientFactory, sync_user: Client) -> None:
    c = sync_clients()
    url = c.auth.oauth_url("google", redirect_to="http://localhost:3000/done?x=1")
    assert url.endswith("/v1/auth/oauth/google/authorize?redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fdone%3Fx%3D1")
    assert c.auth.handle_redirect("http://localhost:3000/done") is None
    with pytest.raises(BasaltError) as e:
        c.auth.handle_redirect("http://localhost:3000/done#error=access_denied")
    assert e.value.code == "access_denied"
    s = sync_user.auth.session
    assert s is not None
    got = c.auth.handle_redirect(
        f"http://localhost:3000/done#access_token={s.access_token}&refresh_token={s.refresh_token}&expires_in=3600"
    )
    assert isinstance(got, Session) and got.user.id == s.user.id and c.auth.user is not None


def test_expired_refresh_token_signs_out(sync_clients: ClientFactory) -> None:
    """The session ended elsewhere: the next refresh raises and leaves the client signed out."""
    email = unique_email("ended")
    c = sync_clients(auto_refresh=False)
    c.auth.sign_up(email=email, password=PASSWORD)
    other = sync_clients()
    other.auth.sign_in(email=email, password=PASSWORD)
    for s in other.auth.sessions():
        if not s.current:
            other.auth.end_session(s.id)
    with pytest.raises(BasaltError) as e:
        c.auth.refresh()
    assert e.value.status == 401 and e.value.details.get("reason") in ("ended", "invalid", "reused")
    assert c.auth.session is None
