# Generated from src/basalt/_async/auth.py by scripts/unasync.py: do not edit.
# Regenerate with `python scripts/unasync.py`.
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, cast
from urllib.parse import quote

from ..._compat import Lock, sync_sleep
from ..._core import encode_segment, expiring_soon, parse_redirect, refresh_failure, refresh_margin, request
from ...errors import BasaltError, argument_error, closed_error
from ...generated import openapi as wire
from ...models import MfaEnrolment, MfaRequired, Session, SessionInfo, SignUpResult, User
from ...session_storage import AuthStorage
from .http import Transport

log = logging.getLogger("basalt")

AuthEvent = Literal["signed_in", "signed_out", "token_refreshed", "user_updated"]
AuthListener = Callable[[AuthEvent, "Session | None"], None]


class Mfa:
    """`auth.mfa`: TOTP enrolment, confirmation, the second step of a sign-in, turning it off."""

    def __init__(self, auth: Auth) -> None:
        self._auth = auth

    def enroll(self, *, current_password: str | None = None) -> MfaEnrolment:
        """Starts enrolment; an account with a password must give it (an access token alone cannot)."""
        body = {} if current_password is None else {"current_password": current_password}
        r = self._auth._t.json(request("POST", "/v1/auth/mfa/totp/enroll", body=body))
        return MfaEnrolment(secret=r["secret"], otpauth_url=r["otpauth_url"], recovery_codes=list(r["recovery_codes"]))

    def confirm(self, code: str) -> User:
        u = self._auth._t.json(request("POST", "/v1/auth/mfa/totp/confirm", body={"code": code}))
        return self._auth._user_changed(u)

    def verify(self, *, mfa_token: str, code: str) -> Session:
        r = self._auth._t.json(
            request("POST", "/v1/auth/mfa/verify", body={"mfa_token": mfa_token, "code": code}, auth=False)
        )
        return self._auth._signed_in(r)

    def disable(self, code: str | None = None) -> User:
        """Turns MFA off; the server asks for a session that passed the second factor (`code` is not sent)."""
        u = self._auth._t.json(request("DELETE", "/v1/auth/mfa/totp"))
        return self._auth._user_changed(u)


class Auth:
    """`client.auth`: sign-in flows, the current session and its refresh.

    Refreshes are single flight: however many requests (tasks, or threads for `Client`) find the
    token about to expire, one refresh request goes out and every one of them uses its result.
    """

    def __init__(self, transport: Transport, storage: AuthStorage, key: str, auto_refresh: bool) -> None:
        self._t = transport
        self._storage = storage
        self._key = key
        self._auto_refresh = auto_refresh
        # One refresh at a time for every client of this storage and key in the process.
        self._lock = Lock.shared(storage, key)
        self._listeners: list[AuthListener] = []
        self._spent: set[str] = set()
        self._closed = False
        self._current: Session | None = self._parse(storage.get_item(key))
        self.mfa = Mfa(self)

    # ---- state ------------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self._current

    @property
    def user(self) -> User | None:
        return self._current.user if self._current else None

    def on_change(self, listener: AuthListener) -> Callable[[], None]:
        """Calls `listener(event, session)` on `signed_in`, `signed_out`, `token_refreshed`, `user_updated`."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def refresh_due_in(self) -> float | None:
        """Seconds until the current token should be refreshed (None when signed out)."""
        s = self._current
        if s is None or not self._auto_refresh:
            return None
        return max(0.0, s.expires_at - refresh_margin(s) - time.time())

    # ---- flows ------------------------------------------------------------------------------

    def sign_up(self, *, email: str, password: str, data: dict[str, Any] | None = None) -> SignUpResult:
        body: dict[str, Any] = {"email": email, "password": password}
        if data is not None:
            body["data"] = data
        r = self._t.json(request("POST", "/v1/auth/signup", body=body, auth=False))
        if isinstance(r, dict) and "access_token" in r:
            session = self._signed_in(cast(wire.SessionTokens, r))
            return SignUpResult(user=session.user, session=session)
        return SignUpResult(user=User.from_wire(r["user"]), session=None)

    def sign_in(self, *, email: str, password: str) -> Session | MfaRequired:
        """A session, or `MfaRequired` for a user with MFA on (then `auth.mfa.verify`)."""
        r = self._t.json(
            request("POST", "/v1/auth/login", body={"email": email, "password": password}, auth=False)
        )
        if r.get("mfa_required"):
            return MfaRequired(mfa_token=r["mfa_token"])
        return self._signed_in(r)

    def sign_in_anonymously(self) -> Session:
        return self._signed_in(self._t.json(request("POST", "/v1/auth/anonymous", body={}, auth=False)))

    def sign_out(self) -> None:
        """Ends the session at the server and forgets it here (also when the server already ended it)."""
        held = self._current
        if held is None:
            return
        failure: BasaltError | None = None
        try:
            self._t.send(
                request(
                    "POST",
                    "/v1/auth/logout",
                    headers={"authorization": f"Bearer {held.access_token}"},
                    auth=False,
                )
            )
        except BasaltError as e:
            if e.status != 401:
                failure = e
        self._adopt(None, "signed_out", write=True)
        if failure is not None:
            raise failure

    def refresh(self) -> Session:
        """Exchanges the refresh token for a new session now."""
        held = self._current
        if held is None:
            raise BasaltError(status=401, code="unauthenticated", message="not signed in")
        s = self._refresh_once(force=True, seen=held.refresh_token)
        if s is None:
            raise BasaltError(status=401, code="unauthenticated", message="not signed in")
        return s

    def send_magic_link(self, *, email: str, redirect_to: str | None = None) -> None:
        body: dict[str, Any] = {"email": email}
        if redirect_to is not None:
            body["redirect_to"] = redirect_to
        self._t.send(request("POST", "/v1/auth/magic-link", body=body, auth=False))

    def verify_magic_link(self, token: str) -> Session | MfaRequired:
        r = self._t.json(request("POST", "/v1/auth/magic-link/verify", body={"token": token}, auth=False))
        if r.get("mfa_required"):
            return MfaRequired(mfa_token=r["mfa_token"])
        return self._signed_in(r)

    def send_password_reset(self, *, email: str) -> None:
        self._t.send(request("POST", "/v1/auth/password/forgot", body={"email": email}, auth=False))

    def reset_password(self, *, token: str, password: str) -> None:
        """Sets a new password with the token of a reset mail; every session of the user ends."""
        self._t.send(
            request("POST", "/v1/auth/password/reset", body={"token": token, "password": password}, auth=False)
        )

    def send_verification(self, *, email: str | None = None) -> None:
        """Mails a verification link to the signed-in user (or to `email`)."""
        to = email if email is not None else (self._current.user.email if self._current else None)
        if not to:
            raise argument_error("no email: sign in or pass email=")
        self._t.send(request("POST", "/v1/auth/verify/send", body={"email": to}, auth=False))

    def verify_email(self, token: str) -> User:
        u = self._t.json(request("POST", "/v1/auth/verify", body={"token": token}, auth=False))
        if self._current is not None and self._current.user.id == u.get("id"):
            return self._user_changed(u)
        return User.from_wire(u)

    def oauth_url(self, provider: str, *, redirect_to: str) -> str:
        """Where to send the browser for a sign-in with an OAuth / OpenID Connect provider."""
        return (
            f"{self._t.url}/v1/auth/oauth/{encode_segment(provider)}/authorize"
            f"?redirect_to={quote(redirect_to, safe='')}"
        )

    def handle_redirect(self, url: str) -> Session | MfaRequired | None:
        """Finishes an OAuth sign-in from the URL it came back to (its fragment); None if it has none."""
        f = parse_redirect(url)
        if f is None:
            return None
        if f.get("error"):
            raise BasaltError(status=0, code=f["error"], message=f.get("error_description") or f["error"])
        if f.get("mfa_required") == "true":
            return MfaRequired(mfa_token=f.get("mfa_token", ""))
        access = f.get("access_token", "")
        u = self._t.json(
            request("GET", "/v1/auth/user", headers={"authorization": f"Bearer {access}"}, auth=False)
        )
        tokens: wire.SessionTokens = {
            "access_token": access,
            "refresh_token": f.get("refresh_token", ""),
            "expires_in": int(float(f.get("expires_in") or 0)),
            "token_type": "bearer",
            "user": u,
        }
        return self._signed_in(tokens)

    def get_user(self) -> User:
        """The signed-in user, read fresh from the server."""
        return self._user_changed(self._t.json(request("GET", "/v1/auth/user")))

    def update_user(
        self,
        *,
        data: dict[str, Any] | None = None,
        email: str | None = None,
        password: str | None = None,
        current_password: str | None = None,
    ) -> User:
        """Changes the profile (`data` is merged), the email or the password (which needs `current_password`)."""
        body: dict[str, Any] = {}
        if data is not None:
            body["data"] = data
        if email is not None:
            body["email"] = email
        if password is not None:
            body["password"] = password
        if current_password is not None:
            body["current_password"] = current_password
        return self._user_changed(self._t.json(request("PATCH", "/v1/auth/user", body=body)))

    def sessions(self) -> list[SessionInfo]:
        """The user's open sessions (devices)."""
        r = self._t.json(request("GET", "/v1/auth/sessions"))
        return [
            SessionInfo(
                id=str(s["id"]),
                created_at=str(s.get("created_at", "")),
                last_used_at=str(s.get("last_used_at", "")),
                user_agent=s.get("user_agent"),
                ip=s.get("ip"),
                current=bool(s.get("current")),
            )
            for s in r["sessions"]
        ]

    def end_session(self, session_id: str) -> None:
        """Ends one session ("sign out that phone")."""
        self._t.send(request("DELETE", f"/v1/auth/sessions/{encode_segment(session_id)}"))

    # ---- tokens -----------------------------------------------------------------------------

    def access_token(self) -> str | None:
        """The access token to send, refreshed first when it is about to expire."""
        s = self._current
        if s is None:
            return None
        if self._auto_refresh and not self._closed and expiring_soon(s):
            try:
                fresh = self._refresh_once(force=False, seen=s.refresh_token)
            except BasaltError as e:
                # A network failure or a 5xx keeps the session: the token we have may still work.
                if e.status == 0 or e.status >= 500:
                    return self._current.access_token if self._current else None
                raise
            return fresh.access_token if fresh else None
        return s.access_token

    def _refresh_once(self, *, force: bool, seen: str) -> Session | None:
        with self._lock:
            if self._closed:
                raise closed_error()
            held = self._current
            stored = self._read_stored()
            if held is not None and stored is None:
                # Another client of this storage signed out.
                self._adopt(None, "signed_out", write=False)
                return None
            if isinstance(stored, Session) and (held is None or stored.refresh_token != held.refresh_token):
                # Another client of this storage refreshed: take its session.
                self._adopt(stored, "token_refreshed" if held else "signed_in", write=False)
                if not expiring_soon(stored):
                    return stored
            s = self._current
            if s is None:
                return None
            if s.refresh_token != seen and not expiring_soon(s):
                return s  # refreshed by whoever held the lock before us
            if not force and not expiring_soon(s):
                return s
            return self._exchange(s)

    def _exchange(self, s: Session) -> Session | None:
        token = s.refresh_token
        if token in self._spent:
            # Never present a token the server called already used: wait for whoever holds the next one.
            return self._await_other_writer(token)
        try:
            r = self._t.json(request("POST", "/v1/auth/refresh", body={"refresh_token": token}, auth=False))
        except BasaltError as e:
            if e.status == 401 or (e.status == 403 and e.details.get("reason") == "disabled"):
                self._spent.add(token)
                if refresh_failure(e) == "already_used":
                    other = self._await_other_writer(token)
                    if other is not None:
                        return other
                # Ended, reused (the server revoked the session), invalid or disabled: signed out.
                self._adopt(None, "signed_out", write=True)
            raise
        self._spent.add(token)
        nxt = Session.from_wire(r)
        self._adopt(nxt, "token_refreshed", write=True)
        return nxt

    def _await_other_writer(self, token: str) -> Session | None:
        """After "already used": another client of this storage refreshed; wait for its session."""
        for _ in range(20):
            stored = self._read_stored()
            if isinstance(stored, Session) and stored.refresh_token != token:
                self._adopt(stored, "token_refreshed", write=False)
                return stored
            if stored is None:
                self._adopt(None, "signed_out", write=False)
                return None
            sync_sleep(0.1)
        return None

    # ---- storage and listeners --------------------------------------------------------------

    @staticmethod
    def _parse(raw: str | None) -> Session | None:
        if not raw:
            return None
        try:
            return Session.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry counts as none

    def _read_stored(self) -> Session | Literal[False] | None:
        """The stored session; False while it still holds a refresh token this client has spent."""
        s = self._parse(self._storage.get_item(self._key))
        if s is not None and s.refresh_token in self._spent:
            return False
        return s

    def _signed_in(self, r: wire.SessionTokens) -> Session:
        s = Session.from_wire(r)
        self._adopt(s, "signed_in", write=True)
        return s

    def _user_changed(self, u: wire.User) -> User:
        user = User.from_wire(u)
        cur = self._current
        if cur is not None and cur.user.id == user.id:
            self._adopt(
                Session(
                    access_token=cur.access_token,
                    refresh_token=cur.refresh_token,
                    expires_at=cur.expires_at,
                    user=user,
                ),
                "user_updated",
                write=True,
            )
        return user

    def _adopt(self, s: Session | None, event: AuthEvent, *, write: bool) -> None:
        if self._closed:
            return
        if write:
            if s is not None:
                self._storage.set_item(self._key, json.dumps(s.to_json()))
            else:
                self._storage.remove_item(self._key)
        before = self._current
        self._current = s
        if s is None and before is None:
            return
        for listener in list(self._listeners):
            try:
                listener(event, s)
            except Exception:
                log.exception("an auth listener raised")

    def close(self) -> None:
        """Stops this client's refreshes and listeners; the stored session stays."""
        self._closed = True
        self._listeners.clear()
