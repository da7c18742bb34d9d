"""`ruong demo`'s people: a cooperative that owns the demo farm, and one farmer, one extension
officer and one technician who can log in, so a new user sees the dashboard as each of them.

The demo fields get a commune and a place near Yên Khánh (Ninh Bình) and the farmer as their
owner. Passwords are random, made once, kept with the demo's state (`accounts.txt`, readable
by its owner only, like the node keys in the registry) and printed at every start: a demo on
someone's laptop, not a secret of a real farm.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from backend.accounts import Accounts
from backend.identity import AccountError
from backend.registry import Registry

ORGANISATION = "HTX Yên Khánh"
COMMUNE = "Khánh Thiện"
# Yên Khánh's paddies, a few hundred metres apart, for the officer's map
ORIGIN = (20.1900, 106.0700)
STEP_DEG = 0.003


@dataclass(frozen=True)
class DemoLogin:
    role: str
    login: str
    password: str
    name: str


ROLE_NAMES = {
    "farmer": "nông dân / farmer",
    "officer": "cán bộ khuyến nông / extension officer",
    "technician": "kỹ thuật viên / technician",
}
PEOPLE = (
    ("farmer", "phone", "0912000001", "Nguyễn Văn Lúa"),
    ("officer", "username", "canbo.khanhthien", "Trần Thị Khuyến"),
    ("technician", "username", "kythuat.htx", "Lê Văn Máy"),
)


def _passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {login: password for login, password in pairs}


def seed_people(registry_url: str, farm: str, fields: list[str], data_dir: Path) -> list[DemoLogin]:
    """The demo's organisation, people and field ownership (once); their logins."""
    path = data_dir / "accounts.txt"
    known = _passwords(path)
    with Registry(registry_url) as registry:
        accounts = Accounts(registry.engine)
        if ORGANISATION not in {name for _, name, _ in accounts.organisations()}:
            accounts.add_organisation(ORGANISATION, "coop")
        logins: list[DemoLogin] = []
        for role, kind, login, name in PEOPLE:
            password = known.get(login) or secrets.token_urlsafe(9)
            try:
                accounts.user(login)
                if login not in known:  # its password went with a deleted accounts.txt
                    accounts.set_password(login, password)
            except AccountError:  # not there yet: make them
                accounts.add_user(
                    ORGANISATION,
                    role,
                    password,
                    phone=login if kind == "phone" else None,
                    username=login if kind == "username" else None,
                    communes=[COMMUNE] if role == "officer" else (),
                    name=name,
                )
            logins.append(DemoLogin(role, accounts.user(login).login, password, name))
        farmer_id = accounts.user_id(PEOPLE[0][2])
        registry.move_farm(farm, ORGANISATION)
        for i, field in enumerate(fields):
            registry.add_field(
                farm,
                field,
                COMMUNE,
                farmer_id,
                latitude=ORIGIN[0] + STEP_DEG * (i // 2),
                longitude=ORIGIN[1] + STEP_DEG * (i % 2),
                area_m2=1500.0,
            )
    path.write_text(
        "".join(f"{p[2]}\t{d.password}\n" for p, d in zip(PEOPLE, logins, strict=True)),
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return logins
