"""The demo's data: one office PC, one registered terminal, one staff member assigned to the PC.

Everything a browser or a test needs to log in is written under the demo's data directory:
`terminal/terminal.{crt,key,p12}` and `credentials.json` (mode 0600).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from jiseki.config import Config
from jiseki.gateway.auth import totp
from jiseki.gateway.db.models import User
from jiseki.gateway.pki import write_private

DEMO_HOST_ID = "demo-pc"
DEMO_HOST_NAME = "デモ自席PC (demo office PC)"
DEMO_TERMINAL_ID = "demo-terminal"
DEMO_USER = "demo"
DEMO_USER_NAME = "デモ 職員"
DEMO_DEPARTMENT = "情報政策課"
DEMO_ADMIN = "demo-admin"
DEMO_ADMIN_NAME = "デモ 管理者"


@dataclass(frozen=True)
class DemoCredentials:
    login_id: str
    password: str
    totp_secret: str
    p12_password: str
    terminal_cert: str
    terminal_key: str
    terminal_p12: str
    # The administrator for the console (/admin), from the same terminal.
    admin_login_id: str = ""
    admin_password: str = ""
    admin_totp_secret: str = ""

    @classmethod
    def load(cls, data_dir: Path) -> DemoCredentials:
        return cls(**json.loads((data_dir / "credentials.json").read_text("utf-8")))


async def provision(config: Config, data_dir: Path) -> DemoCredentials:
    from jiseki.gateway.admin import create_user, register_host, set_policy
    from jiseki.gateway.certs import record_issued
    from jiseki.gateway.hosts import assign
    from jiseki.gateway.state import open_state
    from jiseki.gateway.terminals import _upsert, one_time_password

    state = await open_state(config)
    try:
        terminal_dir = data_dir / "terminal"
        async with state.db.begin() as s:
            await register_host(
                s, state.ca, DEMO_HOST_ID, DEMO_HOST_NAME, config.agent.cert_dir, state.agent_lifetime, "demo"
            )
            issued = state.ca.issue_client_cert("terminal", DEMO_TERMINAL_ID, state.terminal_lifetime)
            await _upsert(s, DEMO_TERMINAL_ID, "デモ端末 (demo terminal)", issued.fingerprint)
            await s.flush()
            await record_issued(s, issued.cert, "terminal", DEMO_TERMINAL_ID)
            p12_password = one_time_password()
            write_private(terminal_dir / "terminal.crt", issued.cert_pem)
            write_private(terminal_dir / "terminal.key", issued.key_pem)
            write_private(
                terminal_dir / "terminal.p12", state.ca.pkcs12(issued, "jiseki demo terminal", p12_password.encode())
            )
            accounts = {}
            for login_id, name, role in ((DEMO_USER, DEMO_USER_NAME, "staff"), (DEMO_ADMIN, DEMO_ADMIN_NAME, "admin")):
                user = await s.get(User, login_id)
                if user is not None:
                    await s.delete(user)
                    await s.flush()
                password = await create_user(
                    s, state.password_policy, login_id, name, DEMO_DEPARTMENT, role, None, "demo"
                )
                assert password is not None
                user = await s.get(User, login_id)
                assert user is not None
                secret = totp.new_secret()
                user.totp_secret, user.totp_enabled, user.must_change_password = state.box.seal(secret), True, False
                accounts[login_id] = (password, secret)
            await assign(s, DEMO_USER, DEMO_HOST_ID)
            # The demo's desktop has no password to unlock it with: do not lock it after a session.
            await set_policy(s, "department", DEMO_DEPARTMENT, {"lock_on_end": False}, "demo")
    finally:
        await state.engine.dispose()
    creds = DemoCredentials(
        DEMO_USER,
        accounts[DEMO_USER][0],
        accounts[DEMO_USER][1],
        p12_password,
        str(terminal_dir / "terminal.crt"),
        str(terminal_dir / "terminal.key"),
        str(terminal_dir / "terminal.p12"),
        DEMO_ADMIN,
        accounts[DEMO_ADMIN][0],
        accounts[DEMO_ADMIN][1],
    )
    write_private(data_dir / "credentials.json", json.dumps(asdict(creds), indent=1).encode())
    return creds
