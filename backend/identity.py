"""Who someone is, as the rest of Ruộng sees it: the roles a person or a machine holds
(:class:`Grant`, :class:`Principal`), a person's record (:class:`UserInfo`), what a login
gives (:class:`LoginResult`), the errors of logging in, and the rules of a login's words: a
Vietnamese mobile number kept in E.164 (`+84` and 9 digits, the first 3, 5, 7, 8 or 9: the
mobile ranges of the 2018 renumbering), written any common way (`0912 345 678`,
`84912345678`, `+84 91 234 5678`), or a username. Pure; backend/accounts.py stores them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

MIN_PASSWORD = 8
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,31}$")
_VN_MOBILE = re.compile(r"^[35789]\d{8}$")


class AccountError(ValueError):
    """A request about people that cannot be done (bad phone, unknown user, weak password)."""


class AuthError(Exception):
    """A login or token that is not accepted; one message for every cause, so an answer
    never says whether the account exists."""

    def __init__(self, reason: str) -> None:
        super().__init__("wrong login or password")
        self.reason = reason  # for the audit trail only: unknown, password, disabled, ...


class Throttled(Exception):
    """Too many failed logins: try again after `retry_after_s` seconds."""

    def __init__(self, retry_after_s: float, key: str) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s
        self.key = key


def normalise_phone(text: str) -> str:
    """A Vietnamese mobile number as E.164 (`+84xxxxxxxxx`); AccountError when it is not one."""
    digits = re.sub(r"[\s.()-]", "", text)
    if digits.startswith("+84"):
        national = digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    if not _VN_MOBILE.match(national):
        raise AccountError(
            f"{text!r} is not a Vietnamese mobile number (10 digits from 03, 05, 07, 08 or 09, "
            "or +84 and 9 digits)"
        )
    return "+84" + national


def login_key(login: str) -> tuple[str, str]:
    """('phone', E.164) or ('username', lower-case name) for what a person typed to log in."""
    text = login.strip()
    if text and (text[0] in "+0" or text[0].isdigit()):
        return "phone", normalise_phone(text)
    name = text.lower()
    if not USERNAME.match(name):
        raise AccountError(
            f"{login!r}: a username is 3-32 letters, digits, '.', '_' or '-', starting with "
            "a letter"
        )
    return "username", name


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


@dataclass(frozen=True)
class Grant:
    """One role in one organisation; an officer's lists the communes it covers."""

    organisation_id: int
    organisation: str
    role: str
    communes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (user_id) through a session, or a machine through an API token
    (token_id, user_id None); what they may see follows from `grants` (backend/access.py)."""

    login: str
    grants: tuple[Grant, ...]
    user_id: int | None = None
    token_id: int | None = None

    def roles(self) -> set[str]:
        return {g.role for g in self.grants}

    def has(self, *roles: str) -> bool:
        return any(g.role in roles for g in self.grants)

    def organisations(self, *roles: str) -> set[int]:
        return {g.organisation_id for g in self.grants if not roles or g.role in roles}

    def communes(self) -> set[str]:
        return {c for g in self.grants if g.role == "officer" for c in g.communes}


@dataclass(frozen=True)
class UserInfo:
    id: int
    login: str
    phone: str | None
    username: str | None
    name: str | None
    email: str | None
    channels: tuple[str, ...]
    disabled: bool
    grants: tuple[Grant, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "login": self.login,
            "phone": self.phone,
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "channels": list(self.channels),
            "disabled": self.disabled,
            "roles": [
                {"organisation": g.organisation, "role": g.role, "communes": sorted(g.communes)}
                for g in self.grants
            ],
        }


@dataclass(frozen=True)
class LoginResult:
    """A new session: the secret (shown once), its expiry, the principal it stands for."""

    token: str
    expires_at: datetime
    principal: Principal
