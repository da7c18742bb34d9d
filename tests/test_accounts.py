"""People and how they prove who they are (backend/accounts.py), on a real SQLite registry;
and the CLI that manages them as an admin types it."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backend import db
from backend.accounts import FREE_FAILURES, Accounts
from backend.identity import AccountError, AuthError, Throttled, normalise_phone
from tests.conftest import run_ruong, write_config

PASSWORD = "lua-thom-2026"


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    people = Accounts(engine)
    people.add_organisation("HTX Yên Khánh", "coop")
    people.add_user("HTX Yên Khánh", "farmer", PASSWORD, phone="0912 345 678", name="Nguyễn Văn A")
    return people


@pytest.mark.parametrize(
    "written",
    [
        "0912345678",
        "0912 345 678",
        "091.234.5678",
        "+84912345678",
        "+84 91 234 5678",
        "84912345678",
    ],
)
def test_a_mobile_number_written_any_common_way_is_one_e164_number(written: str) -> None:
    assert normalise_phone(written) == "+84912345678"


@pytest.mark.parametrize(
    "written", ["0212345678", "091234567", "09123456789", "+1 555 0100", "abc"]
)
def test_what_is_not_a_vietnamese_mobile_number_is_refused(written: str) -> None:
    with pytest.raises(AccountError, match="Vietnamese mobile"):
        normalise_phone(written)


def test_the_password_is_stored_as_an_argon2id_hash_only(
    accounts: Accounts, tmp_path: Path
) -> None:
    raw = (tmp_path / "registry.db").read_bytes()
    assert PASSWORD.encode() not in raw
    assert b"$argon2id$" in raw


def test_login_by_phone_gives_a_session_that_logout_ends(accounts: Accounts) -> None:
    result = accounts.login("0912-345-678", PASSWORD, "192.0.2.7")
    principal = accounts.session_principal(result.token)
    assert principal is not None and principal.login == "+84912345678"
    assert principal.roles() == {"farmer"}
    assert accounts.logout(result.token) and accounts.session_principal(result.token) is None


def test_a_session_expires(accounts: Accounts) -> None:
    result = accounts.login("0912345678", PASSWORD, None)
    later = result.expires_at + timedelta(seconds=1)
    assert accounts.session_principal(result.token, now=later) is None


def test_one_message_for_every_wrong_login(accounts: Accounts) -> None:
    reasons = []
    for login, password in (("0912345678", "wrong-password"), ("0987654321", PASSWORD)):
        with pytest.raises(AuthError, match="wrong login or password") as caught:
            accounts.login(login, password, None)
        reasons.append(caught.value.reason)
    assert reasons == ["password", "unknown"]


def test_failures_throttle_the_account_with_a_growing_delay(accounts: Accounts) -> None:
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    for i in range(FREE_FAILURES):
        with pytest.raises(AuthError):
            accounts.login("0912345678", "wrong-password", f"198.51.100.{i}", now=now)
    with pytest.raises(Throttled) as caught:  # even the right password waits 1 s after the 5th
        accounts.login("0912345678", PASSWORD, "198.51.100.9", now=now)
    assert caught.value.retry_after_s == pytest.approx(1.0)
    assert caught.value.key == "account:+84912345678"
    with pytest.raises(AuthError):  # after the wait a 6th wrong one is checked: 2 s now
        accounts.login("0912345678", "wrong-password", None, now=now + timedelta(seconds=1))
    with pytest.raises(Throttled) as caught:
        accounts.login("0912345678", PASSWORD, None, now=now + timedelta(seconds=2))
    assert caught.value.retry_after_s == pytest.approx(1.0)
    result = accounts.login("0912345678", PASSWORD, None, now=now + timedelta(seconds=3))
    assert result.principal.login == "+84912345678"
    # a success clears the count: the next mistake is a plain failure again
    with pytest.raises(AuthError):
        accounts.login("0912345678", "wrong-password", None, now=now + timedelta(seconds=3))


def test_a_client_address_is_throttled_across_accounts(accounts: Accounts) -> None:
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    for i in range(FREE_FAILURES):  # five accounts, one address
        with pytest.raises(AuthError):
            accounts.login(f"09{i}1234567", "wrong-password", "203.0.113.5", now=now)
    with pytest.raises(Throttled) as caught:
        accounts.login("0912345678", PASSWORD, "203.0.113.5", now=now)
    assert caught.value.key == "client:203.0.113.5"
    assert accounts.login("0912345678", PASSWORD, "203.0.113.6", now=now).token


def test_a_disabled_user_and_a_reset_password_end_every_session(accounts: Accounts) -> None:
    first = accounts.login("0912345678", PASSWORD, None)
    accounts.set_password("0912345678", "mat-khau-moi-1")
    assert accounts.session_principal(first.token) is None
    with pytest.raises(AuthError):
        accounts.login("0912345678", PASSWORD, None)
    second = accounts.login("0912345678", "mat-khau-moi-1", None)
    accounts.disable("+84912345678")
    assert accounts.session_principal(second.token) is None
    with pytest.raises(AuthError) as caught:
        accounts.login("0912345678", "mat-khau-moi-1", None)
    assert caught.value.reason == "disabled"


def test_a_token_is_scoped_shown_once_and_revocable(accounts: Accounts, tmp_path: Path) -> None:
    token_id, secret = accounts.create_token("HTX Yên Khánh", "technician", "fleet monitor")
    principal = accounts.principal(secret)
    assert principal is not None and principal.roles() == {"technician"}
    assert secret.encode() not in (tmp_path / "registry.db").read_bytes()
    accounts.revoke_token(token_id)
    assert accounts.principal(secret) is None


def test_an_officer_needs_communes_and_only_an_officer_has_them(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="communes"):
        accounts.add_user("HTX Yên Khánh", "officer", PASSWORD, username="can.bo")
    with pytest.raises(AccountError, match="only an officer"):
        accounts.add_user(
            "HTX Yên Khánh", "farmer", PASSWORD, username="nong.dan", communes=["Yên Mô"]
        )
    info = accounts.add_user(
        "HTX Yên Khánh", "officer", PASSWORD, username="Can.Bo", communes=["Yên Mô", "Khánh Thiện"]
    )
    assert info.login == "can.bo" and info.grants[0].communes == {"Yên Mô", "Khánh Thiện"}


def ruong(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_ruong("--config", str(config), *args, stdin=stdin)


def test_bad_input_on_the_cli_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "ruong.toml",
        registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
        store_url=f"sqlite:///{tmp_path / 'readings.db'}",
    )
    assert ruong(config, "org", "add", "HTX Yên Khánh", "--kind", "coop").returncode == 0
    cases = [
        (("org", "add", "HTX Yên Khánh", "--kind", "coop"), "", "exists already"),
        (
            ("user", "add", "--org", "HTX Yên Khánh", "--role", "farmer", "--phone", "123"),
            PASSWORD + "\n",
            "--password-stdin",
        ),
        (
            (
                "user",
                "add",
                "--org",
                "HTX Yên Khánh",
                "--role",
                "farmer",
                "--phone",
                "123",
                "--password-stdin",
            ),
            PASSWORD + "\n",
            "not a Vietnamese mobile number",
        ),
        (
            (
                "user",
                "add",
                "--org",
                "Nowhere",
                "--role",
                "farmer",
                "--username",
                "nong.dan",
                "--password-stdin",
            ),
            PASSWORD + "\n",
            "unknown organisation",
        ),
        (("farm", "add", "yk", "--org", "Nowhere"), "", "unknown organisation"),
        (
            ("field", "add", "--farm", "nowhere", "--field", "a", "--commune", "Yên Mô"),
            "",
            "unknown farm",
        ),
        (("user", "disable", "nobody"), "", "unknown user"),
        (("token", "revoke", "99"), "", "unknown token"),
    ]
    for args, stdin, message in cases:
        done = ruong(config, *args, stdin=stdin)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, done.stderr)
