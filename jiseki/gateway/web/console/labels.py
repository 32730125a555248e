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
    "alert": N_("Alert sent by mail"),  # h19-alerts
    "alert_mail": N_("Alert mail not sent"),
    "action_link": N_("One-click link from a mail used"),
    "alert_choices": N_("Alert mail settings changed"),
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
    "host_wake_requested": N_("Power-on requested"),
    "host_group_changed": N_("PC group changed"),
    "policy_changed": N_("Policy changed"),
    "closed_day_added": N_("Closed day added"),
    "closed_day_removed": N_("Closed day removed"),
    "terminal_registered": N_("Terminal registered"),
    "terminal_reissued": N_("Terminal certificate reissued"),
    "terminal_revoked": N_("Terminal revoked"),
    "terminals_registered": N_("Terminals registered from a CSV file"),
    "user_created": N_("Account created"),
    "user_updated": N_("Account changed"),
    "users_imported": N_("Staff CSV imported"),
    "directory_synced": N_("Staff synchronised with the directory"),
    "backup_taken": N_("Backup taken"),
    "initial_passwords_taken": N_("Temporary passwords of an import downloaded"),
    "password_reset": N_("Password reset"),
    "totp_reset": N_("One-time code reset"),
    "user_unlocked": N_("Account unlocked"),
    "user_disabled": N_("Account disabled"),
    "user_enabled": N_("Account enabled"),
    "assigned": N_("PC assigned"),
    "unassigned": N_("Assignment removed"),
    "assignments_imported": N_("Assignments CSV imported"),
    "admin_scope_changed": N_("Scope of a console account changed"),
    "bulk_action": N_("Bulk action"),
    "host_renamed": N_("Office PC renamed"),
    "pcs_imported": N_("Office PCs CSV imported"),
    "user_local_password": N_("Break-glass password of a directory account changed"),
    "directory_tested": N_("Directory connection tested"),
    "webauthn_registered": N_("Security key registered"),
    "webauthn_removed": N_("Security key removed"),
    "webauthn_clone_suspected": N_("Security key refused: suspected copy"),
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
    # directory accounts (issue 18): what the directory said
    "directory_disabled": N_("Disabled in the directory"),
    "directory_expired": N_("Expired in the directory (account or password)"),
    "directory_locked": N_("Locked in the directory"),
    "directory_not_in_groups": N_("Not in the directory groups allowed here"),
    "directory_not_found": N_("Not found in the directory's staff entries"),
    "directory_bad_entry": N_("The directory entry is not usable"),
    "directory_unavailable": N_("No directory server answered"),
    "key_required": N_("Password right; security key next"),
    "key_not_enrolled": N_("No security key registered yet"),
    "key_enrolled": N_("First security key registered"),
    "expired": N_("The security key request expired or was used already"),
    "unknown_key": N_("Not a security key of this account"),
    "bad_signature": N_("The security key's answer was wrong"),
    "clone_suspected": N_("Security key counter went back (suspected copy)"),
}


# ---- the audit log in words (kinds above; outcomes, detail keys and values here) -----------------

# Kinds written outside the console's own actions (sessions, recordings, exports, the trail itself).
KINDS.update(
    {
        "session_resumed": N_("Connection resumed"),
        "clipboard": N_("Clipboard transfer"),
        "message_dropped": N_("Input blocked by the policy"),
        "recording_saved": N_("Recording saved"),
        "recording_viewed": N_("Recording played"),
        "recording_deleted": N_("Recording deleted"),
        "report_exported": N_("Usage report downloaded"),
        "audit_exported": N_("Audit log downloaded"),
        "sessions_exported": N_("Session history downloaded"),
        "audit_purged": N_("Old audit records deleted"),
    }
)

OUTCOMES = {"ok": N_("Succeeded"), "denied": N_("Refused"), "error": N_("Error")}

# The facts an event carries (its `details`), and the fields of a change (before → after).
DETAIL_KEYS = {
    "schema": N_("Database schema"),
    "recordings": N_("Recordings included"),
    "alert": N_("Alert"),  # h19-alerts
    "effect": N_("What was done"),
    "alerts": N_("Alerts chosen"),
    "email": N_("Mail address"),
    "purpose": N_("Purpose"),
    "recipients": N_("Recipients"),
    # facts
    "route": N_("Route"),  # 電源オン: direct / relay / none
    "relay": N_("Relay PC"),
    "sent": N_("Packets sent"),
    "action": N_("Action"),
    "address": N_("From address"),
    "anchor_hash": N_("Anchor hash"),
    "anchor_seq": N_("Anchor record number"),
    "bytes": N_("Size"),
    "bytes_to_agent": N_("Data to the office PC"),
    "bytes_to_viewer": N_("Data to the terminal"),
    "changed": N_("Changed rows"),
    "count": N_("Count"),
    "created": N_("Created accounts"),
    "csv": N_("From a CSV file"),
    "cutoff": N_("Older than"),
    "deleted": N_("Deleted records"),
    "details": N_("Details"),
    "direction": N_("Direction"),
    "duration_ms": N_("Length"),
    "errors": N_("Rows with errors"),
    "filter": N_("Filter"),
    "first": N_("From"),
    "format": N_("File format"),
    "group": N_("Grouping"),
    "hold_minutes": N_("Reconnection held for"),
    "last": N_("Until"),
    "limit": N_("Row limit"),
    "message": N_("Message to the staff member"),
    "method": N_("Issued as"),
    "path": N_("Address requested"),
    "period": N_("Period"),
    "policy": N_("Policy"),
    "reason": N_("Reason"),
    "result": N_("Login result"),
    "resume": N_("Resuming"),
    "rows": N_("Rows"),
    "session": N_("Session"),
    "sha256": N_("Content fingerprint (SHA-256)"),
    "side": N_("Side"),
    "terminal": N_("Terminal"),
    "total": N_("Total so far"),
    "unchanged": N_("Unchanged rows"),
    "refused": N_("Refused rows"),
    "counts": N_("Rows by action"),
    "login_ids": N_("Login IDs by action"),
    "run": N_("Synchronisation run"),
    "trigger": N_("Started by"),
    "dry_run": N_("Preview only"),
    "notes": N_("Accounts left as they are"),
    "error": N_("Error message"),
    "filename": N_("File name"),
    "job": N_("Background job"),
    "user": N_("Staff member"),
    "user_agent": N_("Browser"),
    "servers": N_("Servers tested"),
    "passed": N_("Servers that passed"),
    "via": N_("Password checked"),
    "factor": N_("Checked factor"),
    "key": N_("Security key number"),
    "key_name": N_("Security key name"),
    "passkey": N_("Synced passkey"),
    "sign_count": N_("Security key counter"),
    "stored_count": N_("Counter stored before"),
    "second_factor": N_("Second factor at login"),
    # fields of a change
    "cert_serial": N_("Certificate serial number"),
    "certificate": N_("Certificate"),
    "department": N_("Department"),
    "disabled": N_("Disabled"),
    "display_name": N_("Name"),
    "expires_at": N_("Expires"),
    "failed_logins": N_("Failed logins"),
    "host_group": N_("PC group"),
    "host_name": N_("PC name"),
    "locked_until": N_("Locked until"),
    "local_password": N_("Break-glass password here allowed"),
    "must_change_password": N_("Must change the password"),
    "name": N_("Name"),
    "reading": N_("Reading"),
    "departments": N_("Departments in the scope"),
    "host_groups": N_("PC groups in the scope"),
    "role": N_("Role"),
    "state": N_("State"),
    "totp_enabled": N_("Authenticator app set up"),
    # the filter of an exported audit log or session history
    "kind": N_("Event"),
    "outcome": N_("Result"),
    "actor": N_("By"),
    "subject": N_("Subject"),
    "from": N_("From"),
    "to": N_("Until"),
    "pc": N_("Office PC"),
    "person": N_("Staff member"),
}

# Words for the values of some keys (codes the code writes; anything else is shown as it is).
LOGIN_RESULTS = {
    "ok": N_("Logged in"),
    "enroll_totp": N_("Password right; authenticator app to be set up"),
    "bad_credentials": N_("Wrong ID, password or code"),
    "locked": N_("The account is locked"),
    "disabled": N_("The account is disabled"),
    "address_blocked": N_("Too many failures from that network"),
    "directory_unavailable": N_("Authentication server unreachable"),
    "key_required": N_("Password right; security key next"),
    "enroll_key": N_("Password right; security key to be registered"),
}
LOGIN_VIA = {  # how a directory account's password was checked (the `via` of a login event)
    "directory": N_("By the directory"),
    "local_password": N_("With the password kept here (break-glass)"),
}
FACTORS = {  # the `factor` of a login event
    "password": N_("Password"),
    "totp": N_("One-time code"),
    "webauthn": N_("Security key or passkey"),
}
REFUSAL_REASONS = {  # certificates refused, enrollment refused, messages dropped by the policy
    "no_certificate": N_("No certificate"),
    "unknown_certificate": N_("Unknown certificate"),
    "wrong_kind": N_("Certificate of the wrong kind"),
    "revoked": N_("Certificate revoked"),
    "expired": N_("Certificate expired"),
    "not_yet_valid": N_("Certificate not yet valid"),
    "invalid_token": N_("Invalid enrollment token"),
    "token_expired": N_("Enrollment token expired"),
    "token_used": N_("Enrollment token already used"),
    "bad_csr": N_("Invalid certificate request"),
    "view_only": N_("View only"),
    "clipboard_forbidden": N_("Clipboard sharing not allowed"),
    "clipboard_too_large": N_("Clipboard content too large"),
    "out_of_scope": N_("Outside the administrator's scope"),
}
# Which way a clipboard message went (the audit's `direction`; the policy's modes are policy_kinds').
DIRECTIONS = dict(to_host=N_("Terminal → office PC"), to_terminal=N_("Office PC → terminal"))
SIDES = {"viewer": N_("Terminal"), "agent": N_("Office PC")}
# Who started a directory synchronisation or a power-on (the audit's `trigger`).
TRIGGERS = {"schedule": N_("Schedule"), "manual": N_("Console"), "cli": N_("Command line")}
WAKE_ROUTES = {  # how a power-on signal went (the audit's `route`)
    "direct": N_("Directly from the gateway"),
    "relay": N_("Through a running PC on the same network"),
    "none": N_("Not sent"),
}
METHODS = {"pkcs12": N_("PKCS#12 file"), "csr": N_("Signed certificate request")}
STATES = {
    "live": N_("Connected"),
    "requested": N_("Connecting"),
    "ended": N_("Ended"),
    "active": N_("Active"),
    "revoked": N_("Revoked"),
    "valid": N_("Valid"),
}
FORMATS = {"csv": N_("CSV"), "xlsx": N_("Excel (XLSX)")}
REPORT_PERIODS = {"day": N_("Day"), "week": N_("Week"), "month": N_("Month")}
REPORT_GROUPS = {"all": N_("All"), "department": N_("By department"), "user": N_("By person")}
ACTIONS = {  # permissions.Action values, as a refused console request names them
    "view": N_("View the console"),
    "view_audit": N_("View the audit log"),
    "staff_create": N_("Create accounts"),
    "staff_edit": N_("Edit accounts"),
    "staff_role": N_("Change roles"),
    "staff_disable": N_("Disable or enable accounts"),
    "staff_import": N_("Import staff CSV"),
    "staff_credentials": N_("Reset passwords and codes"),
    "terminal_manage": N_("Manage terminals"),
    "pc_manage": N_("Manage office PCs"),
    "assign": N_("Assign office PCs"),
    "session_end": N_("End sessions"),
    "policy_manage": N_("Change policies"),
    "reports": N_("Usage reports"),
    "recordings": N_("Recordings"),
    "view_organisation": N_("View organisation-wide settings"),
    "enrollment": N_("Issue enrollment tokens"),
    "scope_manage": N_("Set an administrator's scope"),
    "pc_import": N_("Update office PCs by CSV"),
    "department_scope": N_("A department outside the scope"),
    "grant_role": N_("Give a role"),
    "directory": N_("Directory settings and synchronisation"),
    "pc_wake": N_("Power on office PCs"),
}

# What a row of an imported CSV does (preview, job page, result CSV, the import's audit event).
IMPORT_ACTIONS = {
    "create": N_("Creation"),
    "update": N_("Update"),
    "disable": N_("Disabling"),
    "enable": N_("Enabling"),
    "delete": N_("Deletion"),
    "revoke": N_("Revocation"),
    "assign": N_("Assignment"),
    "remove": N_("Removal"),
    "unchanged": N_("No change"),
    "error": N_("Error"),
}
