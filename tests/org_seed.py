"""A prefecture-sized organisation for console tests and the console benchmark: departments, staff
(with readings), PC groups, office PCs and assignments, inserted in bulk into a gateway's database.

Every seeded account has the same password (hashed once: hashing 5,000 times would take minutes) and
no authenticator; log in with the accounts the test creates itself. Names are deterministic.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select

from jiseki.gateway.auth.passwords import hash_password
from jiseki.gateway.db.engine import make_engine, sessionmaker
from jiseki.gateway.db.models import Assignment, Department, Host, HostGroup, User

SURNAMES = (
    ("佐藤", "さとう"),
    ("鈴木", "すずき"),
    ("高橋", "たかはし"),
    ("田中", "たなか"),
    ("伊藤", "いとう"),
    ("渡辺", "わたなべ"),
    ("山本", "やまもと"),
    ("中村", "なかむら"),
    ("小林", "こばやし"),
    ("加藤", "かとう"),
)
GIVEN = (
    ("一郎", "いちろう"),
    ("花子", "はなこ"),
    ("健太", "けんた"),
    ("美咲", "みさき"),
    ("翔", "しょう"),
    ("陽菜", "ひな"),
    ("大輔", "だいすけ"),
    ("結衣", "ゆい"),
)
DEPARTMENT_STEMS = (
    "総務課",
    "人事課",
    "財政課",
    "税務課",
    "福祉政策課",
    "子育て支援課",
    "環境政策課",
    "道路整備課",
    "河川課",
    "農政課",
    "観光振興課",
    "商工労働課",
    "教育総務課",
    "情報政策課",
    "危機管理課",
    "県民生活課",
    "医療政策課",
    "建築住宅課",
    "会計課",
    "文化振興課",
)


@dataclass(frozen=True)
class Organisation:
    departments: list[str]  # index i has id department_ids[i]
    department_ids: list[int]
    staff_ids: list[str]  # s00001 ...; staff i is in departments[i % len(departments)]
    host_ids: list[str]  # pc-00001 ...; PC i is assigned to staff i
    host_groups: list[str]


def department_names(count: int) -> list[str]:
    stems = len(DEPARTMENT_STEMS)
    return [DEPARTMENT_STEMS[i % stems] + ("" if i < stems else str(i // stems + 1)) for i in range(count)]


def person(i: int) -> tuple[str, str]:
    """(display name, reading) of staff number i."""
    (sn, sr), (gn, gr) = SURNAMES[i % len(SURNAMES)], GIVEN[(i // len(SURNAMES)) % len(GIVEN)]
    return f"{sn} {gn}{i:05d}", f"{sr} {gr}"


async def seed_organisation(
    db_url: str, *, staff: int = 5000, pcs: int = 5000, departments: int = 40, groups: int = 10, password: str
) -> Organisation:
    engine = make_engine(db_url)
    now = dt.datetime.now(dt.UTC)
    names = department_names(departments)
    group_names = [f"庁舎{i + 1}階" for i in range(groups)]
    password_hash = hash_password(password)
    try:
        async with sessionmaker(engine).begin() as s:
            dept_ids = []
            existing = {name: id_ for name, id_ in (await s.execute(select(Department.name, Department.id))).all()}
            for name in names:  # a demo database already has some departments: reuse them
                if name not in existing:
                    row = Department(name=name, created_at=now)
                    s.add(row)
                    await s.flush()
                    existing[name] = row.id
                dept_ids.append(existing[name])
            group_ids = []
            for name in group_names:
                group = HostGroup(name=name)
                s.add(group)
                await s.flush()
                group_ids.append(group.id)
            staff_ids = [f"s{i:05d}" for i in range(1, staff + 1)]
            users = []
            for i, login_id in enumerate(staff_ids):
                display, reading = person(i)
                users.append(
                    dict(
                        id=login_id,
                        display_name=display,
                        reading=reading,
                        department_id=dept_ids[i % departments],
                        role="staff",
                        password_hash=password_hash,
                        password_changed_at=now,
                        must_change_password=False,
                        totp_enabled=False,
                        totp_last_step=0,
                        failed_logins=0,
                        disabled=False,
                        created_at=now,
                    )
                )
            host_ids = [f"pc-{i:05d}" for i in range(1, pcs + 1)]
            hosts = [
                dict(
                    id=h,
                    name=f"PC-{i + 1:05d}",
                    cert_fingerprint=f"{i:064x}",
                    cert_serial=f"{i:x}",
                    hostname=f"pc{i + 1:05d}",
                    online=False,
                    created_at=now,
                    locked=False,
                    host_group_id=group_ids[i % groups],
                )
                for i, h in enumerate(host_ids)
            ]
            for start in range(0, len(users), 1000):
                await s.execute(insert(User), users[start : start + 1000])
            for start in range(0, len(hosts), 1000):
                await s.execute(insert(Host), hosts[start : start + 1000])
            pairs = [dict(user_id=u, host_id=h, created_at=now) for u, h in zip(staff_ids, host_ids, strict=False)]
            for start in range(0, len(pairs), 1000):
                await s.execute(insert(Assignment), pairs[start : start + 1000])
    finally:
        await engine.dispose()
    return Organisation(names, dept_ids, staff_ids, host_ids, group_names)
