"""Who may do what in the admin console: one table, checked on every console request.

| action                | admin | helpdesk          | auditor | staff |
|-----------------------|-------|-------------------|---------|-------|
| view (dashboard, staff, terminals, PCs, sessions) | yes | yes | yes | – |
| view the audit log    | yes   | –                 | yes     | –     |
| create accounts       | yes   | role "staff" only | –       | –     |
| edit name/department  | yes   | –                 | –       | –     |
| change roles          | yes   | –                 | –       | –     |
| disable / enable      | yes   | –                 | –       | –     |
| import staff CSV      | yes   | –                 | –       | –     |
| unlock, reset password / one-time code | yes | staff-role accounts only | – | – |
| terminals: register, reissue, revoke   | yes | – | – | – |
| PCs: enrollment tokens, revoke         | yes | – | – | – |
| assignments (one, many, CSV)           | yes | – | – | – |
| end a live session    | yes   | yes               | –       | –     |
| view policies         | yes   | yes               | yes     | –     |
| change policies, host groups | yes | –             | –       | –     |
| usage reports (view, export) | yes | –             | yes     | –     |
| recordings (list, play)      | yes | –             | yes     | –     |

Account actions of a helpdesk member apply only to accounts whose role is "staff", so that the
helpdesk can neither make nor take over an administrator's account.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    VIEW = "view"
    VIEW_AUDIT = "view_audit"
    STAFF_CREATE = "staff_create"
    STAFF_EDIT = "staff_edit"
    STAFF_ROLE = "staff_role"
    STAFF_DISABLE = "staff_disable"
    STAFF_IMPORT = "staff_import"
    STAFF_CREDENTIALS = "staff_credentials"
    TERMINAL_MANAGE = "terminal_manage"
    PC_MANAGE = "pc_manage"
    ASSIGN = "assign"
    SESSION_END = "session_end"
    POLICY_MANAGE = "policy_manage"
    REPORTS = "reports"
    RECORDINGS = "recordings"


CONSOLE_ROLES = frozenset({"admin", "helpdesk", "auditor"})

PERMISSIONS: dict[str, frozenset[Action]] = {
    "admin": frozenset(Action),
    "helpdesk": frozenset({Action.VIEW, Action.STAFF_CREATE, Action.STAFF_CREDENTIALS, Action.SESSION_END}),
    "auditor": frozenset({Action.VIEW, Action.VIEW_AUDIT, Action.REPORTS, Action.RECORDINGS}),
    "staff": frozenset(),
}

# Roles a member of each role may give to an account (when creating it or changing its role).
GRANTABLE: dict[str, tuple[str, ...]] = {
    "admin": ("staff", "helpdesk", "admin", "auditor"),
    "helpdesk": ("staff",),
}


def has_console(role: str) -> bool:
    return role in CONSOLE_ROLES


def allowed(role: str, action: Action) -> bool:
    return action in PERMISSIONS.get(role, frozenset())


def grantable_roles(role: str) -> tuple[str, ...]:
    return GRANTABLE.get(role, ())


def may_act_on_account(role: str, action: Action, target_role: str) -> bool:
    """`action` on an account whose role is `target_role`."""
    if not allowed(role, action):
        return False
    return role == "admin" or target_role == "staff"
