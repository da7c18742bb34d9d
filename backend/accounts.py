"""People, their roles and how they prove who they are: organisations, users (phone number or
username, an Argon2id password hash), memberships, login sessions, API tokens, login
throttling (docs/architecture.md, "People and access").

- Logins: a Vietnamese mobile number or a username (backend/identity.py).
- Passwords: argon2-cffi's `PasswordHasher` (Argon2id, RFC 9106, its default cost); a hash
  from older parameters is replaced at the next successful login. Never stored, logged or
  returned in clear.
- Throttling, per account and per client address: after `FREE_FAILURES` consecutive failures
  each further attempt waits 2^(n - FREE_FAILURES) s after the last failure (capped at
  `MAX_DELAY_S`); an attempt inside the wait is refused without checking the password
  (:class:`Throttled` with its retry-after, the API's 429). A success clears the account's
  count; a client's count is forgotten `CLIENT_MEMORY_S` after its last failure.
- Sessions and API tokens are random 256-bit secrets shown once; only their SHA-256 is kept,
  so a copy of the database lets nobody in. A session lasts `session_hours` from login;
  logout, a password change, an admin reset or disabling the user end it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, selectinload

from backend.identity import (
    AccountError,
    AuthError,
    Grant,
    LoginResult,
    Principal,
    Throttled,
    UserInfo,
    check_password_strength,
    login_key,
)
from backend.schema import (
    ORG_KINDS,
    ROLES,
    ApiToken,
    LoginFailures,
    Membership,
    MembershipCommune,
    Organisation,
    SessionRow,
    User,
    utc,
)

FREE_FAILURES = 5
MAX_DELAY_S = 900.0
CLIENT_MEMORY_S = 3600.0
SESSION_HOURS = 12.0
TOKEN_PREFIX = "rg_"  # tells a Ruộng token from a session in logs and leak scanners

ORG_NAME = re.compile(r"^[\w .()-]{1,64}$")
_HASHER = PasswordHasher()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def grants_of(user: User) -> tuple[Grant, ...]:
    """The roles of `user` (memberships, organisations and communes loaded)."""
    return tuple(
        Grant(
            m.organisation_id,
            m.organisation.name,
            m.role,
            frozenset(c.commune for c in m.communes),
        )
        for m in sorted(user.memberships, key=lambda m: (m.organisation.name, m.role))
    )


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        login=user.phone or user.username or str(user.id),
        phone=user.phone,
        username=user.username,
        name=user.name,
        email=user.email,
        channels=tuple(c for c in (user.channels or "").split(",") if c),
        disabled=user.disabled_at is not None,
        grants=grants_of(user),
    )


_WITH_GRANTS = selectinload(User.memberships).selectinload(Membership.communes)
_WITH_ORGS = selectinload(User.memberships).joinedload(Membership.organisation)


class Accounts:
    """Organisations, users, sessions and tokens in the registry database (`engine` from
    backend/db.py `open_engine`, at the current schema). `now` is injectable for tests."""

    def __init__(self, engine: Engine, session_hours: float = SESSION_HOURS) -> None:
        self.engine = engine
        self.session_hours = session_hours

    # --- organisations ----------------------------------------------------------------------

    def add_organisation(self, name: str, kind: str) -> int:
        if kind not in ORG_KINDS:
            raise AccountError(f"kind must be one of {', '.join(ORG_KINDS)}, got {kind!r}")
        if not ORG_NAME.match(name):
            raise AccountError(f"organisation {name!r}: 1-64 letters, digits, spaces, . ( ) -")
        with Session(self.engine) as session, session.begin():
            if session.scalar(select(Organisation).where(Organisation.name == name)):
                raise AccountError(f"organisation {name!r} exists already")
            org = Organisation(name=name, kind=kind, created_at=datetime.now(UTC))
            session.add(org)
            session.flush()
            return org.id

    def organisation(self, session: Session, name: str) -> Organisation:
        org = session.scalar(select(Organisation).where(Organisation.name == name))
        if org is None:
            raise AccountError(f"unknown organisation {name!r}: ruong org add {name} --kind ...")
        return org

    def organisations(self) -> list[tuple[int, str, str]]:
        """(id, name, kind) of every organisation, by name."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(Organisation.id, Organisation.name, Organisation.kind).order_by(
                    Organisation.name
                )
            )
            return [(i, n, k) for i, n, k in rows]

    # --- users ------------------------------------------------------------------------------

    def add_user(
        self,
        org: str,
        role: str,
        password: str,
        phone: str | None = None,
        username: str | None = None,
        communes: Sequence[str] = (),
        name: str | None = None,
        email: str | None = None,
        channels: Sequence[str] = (),
    ) -> UserInfo:
        """A new person with one role in `org` (more with :meth:`grant`); exactly one of
        `phone` and `username`. An existing person (same phone or username) gets the role."""
        if (phone is None) == (username is None):
            raise AccountError("give exactly one of --phone and --username")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if communes and role != "officer":
            raise AccountError("only an officer's role covers communes (--commune)")
        if role == "officer" and not communes:
            raise AccountError("an officer needs the communes they cover (--commune C, repeat)")
        check_password_strength(password)
        kind, login = login_key(phone if phone is not None else str(username))
        with Session(self.engine) as session, session.begin():
            org_row = self.organisation(session, org)
            column = User.phone if kind == "phone" else User.username
            if session.scalar(select(User).where(column == login)) is not None:
                raise AccountError(f"{login} exists already: ruong user grant, not add")
            now = datetime.now(UTC)
            user = User(
                phone=login if kind == "phone" else None,
                username=login if kind == "username" else None,
                name=name,
                email=email,
                channels=",".join(channels) or None,
                password_hash=_HASHER.hash(password),
                created_at=now,
                password_changed_at=now,
            )
            session.add(user)
            session.flush()
            self._add_membership(session, user, org_row, role, communes)
            session.flush()
            session.refresh(user)
            return _info(user)

    @staticmethod
    def _add_membership(
        session: Session, user: User, org: Organisation, role: str, communes: Iterable[str]
    ) -> None:
        membership = Membership(user=user, organisation=org, role=role)
        membership.communes = [
            MembershipCommune(commune=c.strip()) for c in sorted(set(communes)) if c.strip()
        ]
        session.add(membership)

    def grant(self, login: str, org: str, role: str, communes: Sequence[str] = ()) -> UserInfo:
        """Give an existing person one more role (an officer's communes are replaced)."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        with Session(self.engine) as session, session.begin():
            user = self._user(session, login)
            org_row = self.organisation(session, org)
            for m in list(user.memberships):
                if m.organisation_id == org_row.id and m.role == role:
                    user.memberships.remove(m)
                    session.flush()
            self._add_membership(session, user, org_row, role, communes)
            session.flush()
            session.refresh(user)
            return _info(user)

    def _user(self, session: Session, login: str) -> User:
        kind, key = login_key(login)
        column = User.phone if kind == "phone" else User.username
        user = session.scalar(select(User).where(column == key).options(_WITH_GRANTS, _WITH_ORGS))
        if user is None:
            raise AccountError(f"unknown user {login!r}")
        return user

    def user(self, login: str) -> UserInfo:
        with Session(self.engine) as session:
            return _info(self._user(session, login))

    def user_id(self, login: str) -> int:
        with Session(self.engine) as session:
            return self._user(session, login).id

    def users(self, org: str | None = None) -> list[UserInfo]:
        """Every user (with a role in `org`), by login."""
        with Session(self.engine) as session:
            query = select(User).options(_WITH_GRANTS, _WITH_ORGS)
            if org is not None:
                org_id = self.organisation(session, org).id
                query = query.where(User.memberships.any(Membership.organisation_id == org_id))
            infos = [_info(u) for u in session.scalars(query)]
        return sorted(infos, key=lambda u: u.login)

    def set_contacts(
        self, login: str, email: str | None = None, channels: Sequence[str] | None = None
    ) -> UserInfo:
        with Session(self.engine) as session, session.begin():
            user = self._user(session, login)
            if email is not None:
                user.email = email or None
            if channels is not None:
                user.channels = ",".join(channels) or None
            session.flush()
            return _info(user)

    def disable(self, login: str) -> UserInfo:
        """The person can no longer log in; their sessions end now."""
        with Session(self.engine) as session, session.begin():
            user = self._user(session, login)
            now = datetime.now(UTC)
            user.disabled_at = user.disabled_at or now
            self._end_sessions(session, user.id, now)
            return _info(user)

    def set_password(self, login: str, new_password: str) -> None:
        """An admin's reset: the new password, every session ended."""
        check_password_strength(new_password)
        with Session(self.engine) as session, session.begin():
            user = self._user(session, login)
            now = datetime.now(UTC)
            user.password_hash = _HASHER.hash(new_password)
            user.password_changed_at = now
            self._end_sessions(session, user.id, now)

    def change_password(self, user_id: int, old: str, new: str) -> None:
        """The person's own change: the old password first; every session ended."""
        check_password_strength(new)
        with Session(self.engine) as session, session.begin():
            user = session.get(User, user_id)
            if user is None or not _verified(user.password_hash, old):
                raise AuthError("password")
            now = datetime.now(UTC)
            user.password_hash = _HASHER.hash(new)
            user.password_changed_at = now
            self._end_sessions(session, user.id, now)

    @staticmethod
    def _end_sessions(session: Session, user_id: int, now: datetime) -> None:
        for row in session.scalars(
            select(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
        ):
            row.revoked_at = now

    # --- login, sessions --------------------------------------------------------------------

    def _wait(self, session: Session, key: str, now: datetime) -> float:
        row = session.get(LoginFailures, key)
        if row is None or row.failures < FREE_FAILURES:
            return 0.0
        delay = min(2.0 ** (row.failures - FREE_FAILURES), MAX_DELAY_S)
        return max(0.0, delay - (now - utc(row.last_failure_at)).total_seconds())

    def _fail(self, session: Session, key: str, now: datetime) -> None:
        row = session.get(LoginFailures, key)
        if row is None:
            session.add(LoginFailures(key=key, failures=1, last_failure_at=now))
        else:
            row.failures += 1
            row.last_failure_at = now

    def login(
        self, login: str, password: str, client: str | None, now: datetime | None = None
    ) -> LoginResult:
        """A new session for the right password; AuthError (its `reason` for the audit
        trail) or Throttled otherwise."""
        now = now or datetime.now(UTC)
        try:
            kind, key = login_key(login)
        except AccountError:
            kind, key = "username", login.strip().lower()[:64]
        account_key, client_key = f"account:{key}", f"client:{client or '-'}"
        with Session(self.engine) as session, session.begin():
            self._forget_old_client_failures(session, client_key, now)
            for throttle_key in (account_key, client_key):
                wait = self._wait(session, throttle_key, now)
                if wait > 0:
                    raise Throttled(wait, throttle_key)
            column = User.phone if kind == "phone" else User.username
            user = session.scalar(
                select(User).where(column == key).options(_WITH_GRANTS, _WITH_ORGS)
            )
            reason = None
            if user is None:
                _HASHER.hash(password)  # the same work as a real check: no timing oracle
                reason = "unknown"
            elif not _verified(user.password_hash, password):
                reason = "password"
            elif user.disabled_at is not None:
                reason = "disabled"
            if reason is not None or user is None:
                self._fail(session, account_key, now)
                self._fail(session, client_key, now)
            else:
                if _HASHER.check_needs_rehash(user.password_hash):
                    user.password_hash = _HASHER.hash(password)
                session.execute(delete(LoginFailures).where(LoginFailures.key == account_key))
                token = secrets.token_urlsafe(32)
                expires = now + timedelta(hours=self.session_hours)
                session.add(
                    SessionRow(
                        token_hash=_digest(token),
                        user_id=user.id,
                        created_at=now,
                        expires_at=expires,
                        client=client,
                    )
                )
                info = _info(user)
        if reason is not None:  # the failure counts are committed first
            raise AuthError(reason)
        return LoginResult(token, expires, Principal(info.login, info.grants, user_id=info.id))

    @staticmethod
    def _forget_old_client_failures(session: Session, key: str, now: datetime) -> None:
        row = session.get(LoginFailures, key)
        if row is not None and (now - utc(row.last_failure_at)).total_seconds() > CLIENT_MEMORY_S:
            session.delete(row)
            session.flush()

    def session_principal(self, token: str, now: datetime | None = None) -> Principal | None:
        """The principal of a live session token; None when unknown, expired or ended."""
        now = now or datetime.now(UTC)
        with Session(self.engine) as session:
            row = session.get(SessionRow, _digest(token))
            if row is None or row.revoked_at is not None or utc(row.expires_at) <= now:
                return None
            user = session.get(User, row.user_id, options=[_WITH_GRANTS, _WITH_ORGS])
            if user is None or user.disabled_at is not None:
                return None
            info = _info(user)
            return Principal(info.login, info.grants, user_id=info.id)

    def logout(self, token: str) -> bool:
        """End a session; False when it was not a live one."""
        with Session(self.engine) as session, session.begin():
            row = session.get(SessionRow, _digest(token))
            if row is None or row.revoked_at is not None:
                return False
            row.revoked_at = datetime.now(UTC)
            return True

    # --- API tokens -------------------------------------------------------------------------

    def create_token(self, org: str, role: str, name: str = "") -> tuple[int, str]:
        """A new machine token for `role` in `org`: (id, the secret, shown only now)."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session, session.begin():
            org_row = self.organisation(session, org)
            row = ApiToken(
                token_hash=_digest(secret),
                name=name or f"{role}@{org}",
                organisation=org_row,
                role=role,
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.flush()
            return row.id, secret

    def revoke_token(self, token_id: int) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ApiToken, token_id)
            if row is None:
                raise AccountError(f"unknown token {token_id}")
            row.revoked_at = row.revoked_at or datetime.now(UTC)

    def tokens(self) -> list[dict[str, object]]:
        """Every token's id, name, organisation, role and state (never the secret)."""
        with Session(self.engine) as session:
            rows = session.scalars(select(ApiToken).order_by(ApiToken.id))
            return [
                {
                    "id": t.id,
                    "name": t.name,
                    "organisation": t.organisation.name,
                    "role": t.role,
                    "revoked": t.revoked_at is not None,
                }
                for t in rows
            ]

    def token_principal(self, secret: str) -> Principal | None:
        """The principal of a live API token; None otherwise."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        with Session(self.engine) as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
            if row is None or row.revoked_at is not None:
                return None
            grant = Grant(row.organisation_id, row.organisation.name, row.role)
            return Principal(f"token:{row.id}", (grant,), token_id=row.id)

    def principal(self, bearer: str) -> Principal | None:
        """The principal of a bearer secret: an API token or a session token."""
        if bearer.startswith(TOKEN_PREFIX):
            return self.token_principal(bearer)
        return self.session_principal(bearer)


def _verified(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
