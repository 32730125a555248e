"""Words for codes the console shows: roles and kinds of audit events."""

from __future__ import annotations

from jiseki.i18n import N_

ROLE_LABELS = {
    "staff": N_("Staff"),
    "helpdesk": N_("Helpdesk"),
    "admin": N_("Administrator"),
    "auditor": N_("Auditor"),
}

# What each kind of event means, for readers who do not know the codes.
KINDS = {
    "login": N_("Login"),
    "logout": N_("Logout"),
    "logout_everywhere": N_("Logout on every device"),
    "totp_enrolled": N_("Authenticator app set up"),
    "password_change": N_("Password changed"),
    "network_refused": N_("Refused: network"),
    "device_refused": N_("Refused: unregistered device"),
    "csrf_refused": N_("Refused: form token"),
    "agent_refused": N_("Refused: agent certificate"),
    "console_refused": N_("Refused: console permission"),
    "session_request": N_("Connection requested"),
    "session_ticket": N_("Refused: session ticket"),
    "session_start": N_("Connection started"),
    "session_end": N_("Connection ended"),
    "session_ended_by_admin": N_("Connection ended by an administrator"),
    "agent_enrolled": N_("Agent enrolled"),
    "enrollment_token": N_("Enrollment token issued"),
    "enrollment_token_cancelled": N_("Enrollment token cancelled"),
    "host_registered": N_("Office PC registered"),
    "host_revoked": N_("Office PC revoked"),
    "host_group_changed": N_("PC group changed"),
    "policy_changed": N_("Policy changed"),
    "terminal_registered": N_("Terminal registered"),
    "terminal_reissued": N_("Terminal certificate reissued"),
    "terminal_revoked": N_("Terminal revoked"),
    "user_created": N_("Account created"),
    "user_updated": N_("Account changed"),
    "users_imported": N_("Staff CSV imported"),
    "password_reset": N_("Password reset"),
    "totp_reset": N_("One-time code reset"),
    "user_unlocked": N_("Account unlocked"),
    "user_disabled": N_("Account disabled"),
    "user_enabled": N_("Account enabled"),
    "assigned": N_("PC assigned"),
    "unassigned": N_("Assignment removed"),
    "assignments_imported": N_("Assignments CSV imported"),
}

# Why a login was refused (the `reason` of a denied `login` event). The person at the terminal is
# told only "wrong ID, password or code"; the helpdesk reads the real reason here.
LOGIN_REASONS = {
    "wrong_password": N_("Wrong password"),
    "wrong_code": N_("Wrong one-time code"),
    "totp_replay": N_("One-time code used again"),
    "locked": N_("The account is locked"),
    "disabled": N_("The account is disabled"),
    "address_throttled": N_("Too many failures from that network"),
    "password_changed": N_("The password was changed meanwhile"),
    "changed_meanwhile": N_("The account was changed meanwhile"),
}
