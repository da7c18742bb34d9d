"""`ruong org|user|token|farm ...` and `ruong audit list`: organisations, the people in them
and their roles, machines' API tokens, farms, and the audit trail (backend/accounts.py,
backend/audit.py). Every change is an audit event; `actor` is `cli:<login name>`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from backend.accounts import Accounts
from backend.audit import Audit, cli_actor
from backend.config import Settings
from backend.identity import AccountError
from backend.registry import Registry
from backend.schema import ORG_KINDS, ROLES


@dataclass
class People:
    registry: Registry
    accounts: Accounts
    audit: Audit
    actor: str


@contextmanager
def people(settings: Settings) -> Iterator[People]:
    with Registry(settings.registry_url) as registry:
        audit = Audit(registry.engine, settings.audit_syslog)
        try:
            yield People(
                registry,
                Accounts(registry.engine, settings.session_hours),
                audit,
                cli_actor(),
            )
        finally:
            audit.close()


def _password(args: argparse.Namespace) -> str:
    """The password from the first line of standard input (never an argument: argv is
    visible to every user of the machine and kept in shell history)."""
    if not args.password_stdin:
        raise AccountError("give the password on standard input with --password-stdin")
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise AccountError("--password-stdin: standard input held no password")
    return line


def cmd_org_add(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        p.accounts.add_organisation(args.name, args.kind)
        p.audit.record(p.actor, "org.add", "success", organisation=args.name, target=args.name)
    print(f"organisation {args.name} ({args.kind})")
    return 0


def cmd_org_list(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        orgs = p.accounts.organisations()
    if args.json:
        print(json.dumps([{"id": i, "name": n, "kind": k} for i, n, k in orgs]))
    for _, name, kind in [] if args.json else orgs:
        print(f"{name:<32} {kind}")
    return 0


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    password = _password(args)
    channels = _channels(args.channels)
    with people(settings) as p:
        info = p.accounts.add_user(
            args.org,
            args.role,
            password,
            phone=args.phone,
            username=args.username,
            communes=args.commune,
            name=args.name,
            email=args.email,
            channels=channels,
        )
        p.audit.record(
            p.actor,
            "user.add",
            "success",
            organisation=args.org,
            target=info.login,
            details={"role": args.role, "communes": ",".join(sorted(args.commune))},
        )
    print(f"user {info.login}: {args.role} of {args.org}")
    return 0


def _channels(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


def cmd_user_grant(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        info = p.accounts.grant(args.login, args.org, args.role, args.commune)
        p.audit.record(
            p.actor,
            "role.grant",
            "success",
            organisation=args.org,
            target=info.login,
            details={"role": args.role, "communes": ",".join(sorted(args.commune))},
        )
    print(f"user {info.login}: now also {args.role} of {args.org}")
    return 0


def cmd_user_set(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        channels = None if args.channels is None else _channels(args.channels)
        info = p.accounts.set_contacts(args.login, email=args.email, channels=channels)
        p.audit.record(p.actor, "user.set", "success", target=info.login)
    print(
        f"user {info.login}: email {info.email or '-'}, channels {','.join(info.channels) or '-'}"
    )
    return 0


def cmd_user_list(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        users = p.accounts.users(args.org)
    if args.json:
        print(json.dumps([u.as_json() for u in users], ensure_ascii=False))
        return 0
    for u in users:
        roles = "; ".join(
            f"{g.role}@{g.organisation}"
            + (f" ({', '.join(sorted(g.communes))})" if g.communes else "")
            for g in u.grants
        )
        state = "disabled" if u.disabled else "active"
        print(f"{u.login:<16} {state:<8} {roles}")
    return 0


def cmd_user_disable(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        info = p.accounts.disable(args.login)
        p.audit.record(p.actor, "user.disable", "success", target=info.login)
    print(f"user {info.login} disabled: their sessions have ended")
    return 0


def cmd_user_password(settings: Settings, args: argparse.Namespace) -> int:
    password = _password(args)
    with people(settings) as p:
        p.accounts.set_password(args.login, password)
        p.audit.record(p.actor, "password.reset", "success", target=args.login)
    print(f"user {args.login}: password reset, sessions ended")
    return 0


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        token_id, secret = p.accounts.create_token(args.org, args.role, args.name or "")
        p.audit.record(
            p.actor,
            "token.create",
            "success",
            organisation=args.org,
            target=f"token:{token_id}",
            details={"role": args.role},
        )
    print(secret)
    print(
        f"token {token_id}: {args.role} of {args.org}; shown only now, keep it secret "
        f"(ruong token revoke {token_id})",
        file=sys.stderr,
    )
    return 0


def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        p.accounts.revoke_token(args.id)
        p.audit.record(p.actor, "token.revoke", "success", target=f"token:{args.id}")
    print(f"token {args.id} revoked")
    return 0


def cmd_token_list(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        tokens = p.accounts.tokens()
    if args.json:
        print(json.dumps(tokens))
        return 0
    for t in tokens:
        state = "revoked" if t["revoked"] else "active"
        print(f"{t['id']:>4} {state:<8} {t['role']}@{t['organisation']}  {t['name']}")
    return 0


def cmd_farm_add(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        p.registry.add_farm(args.name, args.org)
        p.audit.record(p.actor, "farm.add", "success", organisation=args.org, target=args.name)
    print(f"farm {args.name} of {args.org}")
    return 0


def _since(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-12-01T08:00") from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def cmd_audit_list(settings: Settings, args: argparse.Namespace) -> int:
    with people(settings) as p:
        events = p.audit.events(since=args.since, action=args.action, limit=args.limit)
    if args.json:
        print(json.dumps([e.as_json() for e in events], ensure_ascii=False))
        return 0
    for e in events:
        details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
        print(
            f"{e.time:%Y-%m-%d %H:%M:%S}Z {e.outcome:<9} {e.action:<16} {e.actor:<20} "
            f"{e.target or '-':<20} {e.client or '-':<15} {e.organisation or '-'} {details}"
        )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    org = sub.add_parser("org", help="organisations: cooperatives, companies, province departments")
    org_sub = org.add_subparsers(dest="org_command", required=True, metavar="ACTION")
    add = org_sub.add_parser("add", help="a new organisation")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=ORG_KINDS)
    add.set_defaults(func=cmd_org_add)
    listing = org_sub.add_parser("list", help="every organisation")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_org_list)

    user = sub.add_parser("user", help="people, their roles and contacts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="a new person with a role in an organisation")
    add.add_argument("--org", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="Vietnamese mobile number, e.g. 0912 345 678")
    who.add_argument("--username")
    add.add_argument("--commune", action="append", default=[], help="an officer's commune")
    add.add_argument("--name", help="the person's name as shown")
    add.add_argument("--email")
    add.add_argument("--channels", help="alert channels in order, e.g. zalo,sms,email")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=cmd_user_add)
    grant = user_sub.add_parser("grant", help="one more role for a person")
    grant.add_argument("login")
    grant.add_argument("--org", required=True)
    grant.add_argument("--role", required=True, choices=ROLES)
    grant.add_argument("--commune", action="append", default=[])
    grant.set_defaults(func=cmd_user_grant)
    setter = user_sub.add_parser("set", help="a person's contacts and channel order")
    setter.add_argument("login")
    setter.add_argument("--email")
    setter.add_argument("--channels", help="e.g. zalo,sms,email")
    setter.set_defaults(func=cmd_user_set)
    listing = user_sub.add_parser("list", help="people and their roles")
    listing.add_argument("--org")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_user_list)
    disable = user_sub.add_parser("disable", help="no more logins; sessions end now")
    disable.add_argument("login")
    disable.set_defaults(func=cmd_user_disable)
    reset = user_sub.add_parser("reset-password", help="an admin's password reset")
    reset.add_argument("login")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=cmd_user_password)

    token = sub.add_parser("token", help="API tokens for machines")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser("create", help="a new token (printed once)")
    create.add_argument("--org", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", help="what the token is for")
    create.set_defaults(func=cmd_token_create)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)
    listing = token_sub.add_parser("list", help="tokens (never their secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_token_list)

    farm = sub.add_parser("farm", help="farms of organisations")
    farm_sub = farm.add_subparsers(dest="farm_command", required=True, metavar="ACTION")
    add = farm_sub.add_parser("add", help="a new farm of an organisation")
    add.add_argument("name")
    add.add_argument("--org", required=True)
    add.set_defaults(func=cmd_farm_add)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    listing = audit_sub.add_parser("list", help="security events, oldest first")
    listing.add_argument("--since", type=_since, help="from this time, e.g. 2026-12-01T08:00")
    listing.add_argument("--action", help="only actions starting with this, e.g. login")
    listing.add_argument("--limit", type=int, default=1000)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_audit_list)
