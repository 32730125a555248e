"""The console's routes and upload size limits."""

from __future__ import annotations

from aiohttp import web

from . import audit_log, dashboard, imports, pcs, policies, reports, sessions, staff, terminals
from .uploads import UPLOAD_LIMIT

# Request body limits above the application's default, by path (CSV uploads).
UPLOAD_LIMITS = {
    "/admin/staff/import": UPLOAD_LIMIT,
    "/admin/assignments/import": UPLOAD_LIMIT,
    "/admin/enrollment/bulk": UPLOAD_LIMIT,
}


def routes() -> list[web.RouteDef]:
    return [
        web.get("/admin", dashboard.dashboard),
        web.get("/admin/staff", staff.staff_list),
        web.post("/admin/staff", staff.create_staff),
        web.get("/admin/staff/new", staff.new_staff),
        web.get("/admin/staff/import", imports.staff_form),
        web.post("/admin/staff/import", imports.staff_preview),
        web.post("/admin/staff/import/{staged_id}", imports.staff_confirm),
        web.get("/admin/account/{login_id}", staff.account_page),
        web.post("/admin/account/{login_id}", staff.update_account),
        web.post("/admin/account/{login_id}/unlock", staff.unlock),
        web.post("/admin/account/{login_id}/reset-password", staff.reset_password),
        web.post("/admin/account/{login_id}/reset-totp", staff.reset_totp),
        web.post("/admin/account/{login_id}/disable", staff.disable),
        web.post("/admin/account/{login_id}/enable", staff.enable),
        web.post("/admin/account/{login_id}/assign", staff.assign_pc),
        web.post("/admin/account/{login_id}/unassign", staff.unassign_pc),
        web.get("/admin/terminals", terminals.terminal_list),
        web.post("/admin/terminals", terminals.register_terminal),
        web.get("/admin/terminals/new", terminals.new_terminal),
        web.get("/admin/terminal/{terminal_id}", terminals.terminal_page),
        web.post("/admin/terminal/{terminal_id}/reissue", terminals.reissue_terminal),
        web.post("/admin/terminal/{terminal_id}/revoke", terminals.revoke_terminal),
        web.get("/admin/pcs", pcs.pc_list),
        web.get("/admin/pc/{host_id}", pcs.pc_page),
        web.post("/admin/pc/{host_id}/assign", pcs.assign_many),
        web.post("/admin/pc/{host_id}/unassign", pcs.unassign),
        web.post("/admin/pc/{host_id}/revoke", pcs.revoke),
        web.get("/admin/enrollment", pcs.tokens),
        web.post("/admin/enrollment", pcs.create_token),
        web.post("/admin/enrollment/bulk", pcs.create_tokens),
        web.post("/admin/enrollment/{token_id}/cancel", pcs.cancel_token),
        web.get("/admin/assignments/import", imports.assignments_form),
        web.post("/admin/assignments/import", imports.assignments_preview),
        web.post("/admin/assignments/import/{staged_id}", imports.assignments_confirm),
        web.get("/admin/sessions", sessions.session_list),
        web.get("/admin/session/{session_id}/end", sessions.end_form),
        web.post("/admin/session/{session_id}/end", sessions.end_session),
        web.get("/admin/audit", audit_log.audit_log),
        web.get("/admin/policies", policies.policies_page),
        web.post("/admin/policies", policies.save_policy),
        web.post("/admin/policies/group", policies.set_group),
        web.get("/admin/reports", reports.report_page),
        web.get("/admin/reports/export", reports.report_export),
        web.get("/admin/recordings", reports.recordings_page),
    ]
