"""Who may do what in the admin console: one table, checked on every console request.

| action                | admin | helpdesk          | auditor | staff |
|-----------------------|-------|-------------------|---------|-------|
| view (dashboard, staff, PCs, sessions) | yes | yes | yes | – |
| view organisation-wide lists (terminals, enrollment tokens) | yes | yes | yes | – |
| view the audit log    | yes   | –                 | yes     | –     |
| create accounts       | yes   | role "staff" only | –       | –     |
| edit name/department  | yes   | –                 | –       | –     |
| change roles          | yes   | –                 | –       | –     |
| disable / enable      | yes   | –                 | –       | –     |
| import staff CSV      | yes   | –                 | –       | –     |
| unlock, reset password / one-time code | yes | staff-role accounts only | – | – |
| terminals: register, reissue, revoke   | yes | – | – | – |
| PCs: enrollment tokens                 | yes | – | – | – |
| PCs: CSV in update mode (name, group, revoke) | yes | – | – | – |
| PCs: revoke                            | yes | – | – | – |
| assignments (one, many, CSV)           | yes | – | – | – |
| end a live session    | yes   | yes               | –       | –     |
| view policies         | yes   | yes               | yes     | –     |
| change policies, host groups | yes | –             | –       | –     |
| set a console account's scope (所掌範囲) | yes | – | –     | –     |
| usage reports (view, export) | yes | –             | yes     | –     |
| recordings (list, play)      | yes | –             | yes     | –     |

Account actions of a helpdesk member apply only to accounts whose role is "staff", so that the
helpdesk can neither make nor take over an administrator's account.

Delegated console users (所掌範囲: a scope of departments and/or PC groups, `scope.py`) keep their
role's rights within their scope, with these limits:

- every list, count, page and change covers the staff, PCs and sessions of their scope only; a row
  outside it is "not found" (the page by URL answers 404, and a change to it is audited as refused);
- the actions in `ORGANISATION_ONLY` are not theirs: terminals, enrollment tokens, the PC CSV,
  policies and PC groups, scopes, and the organisation-wide lists (terminals, enrollment tokens);
- they act on "staff"-role accounts only and grant only the role "staff" (a helpdesk account they
  made would have no scope, i.e. the whole organisation; a console account's password reset would
  take it over);
- they create staff only in a department of their scope (chosen from a list) and move staff only
  between departments of their scope;
- assigning or unassigning needs both the staff member and the PC in scope.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    VIEW = "view"
    VIEW_ORGANISATION = "view_organisation"
    VIEW_AUDIT = "view_audit"
    STAFF_CREATE = "staff_create"
    STAFF_EDIT = "staff_edit"
    STAFF_ROLE = "staff_role"
    STAFF_DISABLE = "staff_disable"
    STAFF_IMPORT = "staff_import"
    STAFF_CREDENTIALS = "staff_credentials"
    TERMINAL_MANAGE = "terminal_manage"
    PC_MANAGE = "pc_manage"
    ENROLLMENT = "enrollment"
    PC_IMPORT = "pc_import"
    ASSIGN = "assign"
    SESSION_END = "session_end"
    POLICY_MANAGE = "policy_manage"
    SCOPE_MANAGE = "scope_manage"
    REPORTS = "reports"
    RECORDINGS = "recordings"
    DIRECTORY = "directory"  # the directory settings, connection test and synchronisation (issue 18)
    PC_WAKE = "pc_wake"  # 電源オン (Wake-on-LAN) of an office PC (issue 19)


CONSOLE_ROLES = frozenset({"admin", "helpdesk", "auditor"})

PERMISSIONS: dict[str, frozenset[Action]] = {
    "admin": frozenset(Action),
    "helpdesk": frozenset(
        {
            Action.VIEW,
            Action.VIEW_ORGANISATION,
            Action.STAFF_CREATE,
            Action.STAFF_CREDENTIALS,
            Action.SESSION_END,
            Action.PC_WAKE,
        }
    ),
    "auditor": frozenset({Action.VIEW, Action.VIEW_ORGANISATION, Action.VIEW_AUDIT, Action.REPORTS, Action.RECORDINGS}),
    "staff": frozenset(),
}

# What a delegated (scoped) console user may not do, whatever their role: settings and devices that
# belong to the whole organisation.
ORGANISATION_ONLY = frozenset(
    {
        Action.VIEW_ORGANISATION,
        Action.TERMINAL_MANAGE,
        Action.ENROLLMENT,
        Action.PC_IMPORT,
        Action.POLICY_MANAGE,
        Action.SCOPE_MANAGE,
        Action.DIRECTORY,
    }
)

# Roles a member of each role may give to an account (when creating it or changing its role).
GRANTABLE: dict[str, tuple[str, ...]] = {
    "admin": ("staff", "helpdesk", "admin", "auditor"),
    "helpdesk": ("staff",),
}
DELEGATED_GRANTABLE = ("staff",)


def has_console(role: str) -> bool:
    return role in CONSOLE_ROLES


def allowed(role: str, action: Action, delegated: bool = False) -> bool:
    if delegated and action in ORGANISATION_ONLY:
        return False
    return action in PERMISSIONS.get(role, frozenset())


def grantable_roles(role: str, delegated: bool = False) -> tuple[str, ...]:
    roles = GRANTABLE.get(role, ())
    return tuple(r for r in roles if r in DELEGATED_GRANTABLE) if delegated else roles


def may_act_on_account(role: str, action: Action, target_role: str, delegated: bool = False) -> bool:
    """`action` on an account whose role is `target_role` (its scope is the caller's to check)."""
    if not allowed(role, action, delegated):
        return False
    return (role == "admin" and not delegated) or target_role == "staff"
