"""Everything one gateway node holds while it runs, built once at start-up."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jiseki.config import Config

from .audit.head import HeadFile
from .auth.passwords import PasswordPolicy
from .auth.throttle import AddressThrottle
from .auth.totp import SecretBox
from .broker import Broker
from .certs import CertificateChecker, RevocationWatcher
from .db.engine import make_engine, sessionmaker, upgrade_to_head
from .jobs import Runner
from .nodes import NodeRegistry
from .pki import CertificateAuthority
from .signaling import LocalSignaling, PostgresSignaling, Signaling, asyncpg_dsn

ENROLL_FAILURES_PER_WINDOW = 10
ENROLL_WINDOW_SECONDS = 600


@dataclass
class GatewayState:
    config: Config
    ca: CertificateAuthority
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    broker: Broker
    checker: CertificateChecker
    watcher: RevocationWatcher
    box: SecretBox
    password_policy: PasswordPolicy
    login_throttle: AddressThrottle
    nodes: NodeRegistry
    jobs: Runner  # background jobs (CSV imports) this node runs
    enroll_throttle: AddressThrottle = field(
        default_factory=lambda: AddressThrottle(ENROLL_FAILURES_PER_WINDOW, ENROLL_WINDOW_SECONDS)
    )
    audit_head: HeadFile | None = None  # where this node records the audit chain's head (outside the database)

    @property
    def terminal_lifetime(self) -> dt.timedelta:
        return dt.timedelta(days=self.config.gateway.terminal_cert_days)

    @property
    def agent_lifetime(self) -> dt.timedelta:
        return dt.timedelta(days=self.config.gateway.agent_cert_days)


async def open_state(config: Config) -> GatewayState:
    """CA (created on first start), server certificate, a migrated database and the services."""
    gw = config.gateway
    gw.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = CertificateAuthority(gw.data_dir / "pki", gw.ca_passphrase.encode() or None)
    ca.ensure_server_cert(gw.server_names)
    engine = make_engine(gw.effective_database_url, gw.database_pool_size, gw.database_max_overflow)
    await upgrade_to_head(engine)
    db = sessionmaker(engine)
    checker = CertificateChecker(db)
    auth = config.auth
    nodes = NodeRegistry(db, gw.effective_node_id, gw.effective_public_url)
    signaling: Signaling = (
        PostgresSignaling(nodes.node_id, asyncpg_dsn(gw.effective_database_url), db)
        if engine.dialect.name == "postgresql"
        else LocalSignaling(nodes.node_id)
    )

    async def alive() -> set[str]:
        return set(await nodes.alive()) | {nodes.node_id}

    broker = Broker(db, auth.ticket_seconds, nodes.node_id, nodes.url, signaling, alive)
    box = SecretBox(gw.data_dir / "secrets" / "totp.key")
    return GatewayState(
        config=config,
        ca=ca,
        engine=engine,
        db=db,
        broker=broker,
        checker=checker,
        watcher=RevocationWatcher(db, checker),
        box=box,
        password_policy=PasswordPolicy(auth.password_min_length, auth.password_min_classes),
        login_throttle=AddressThrottle(auth.address_max_failures, auth.address_window_seconds),
        nodes=nodes,
        jobs=Runner(db, box, nodes.node_id),
        audit_head=HeadFile.in_data_dir(gw.data_dir),
    )
