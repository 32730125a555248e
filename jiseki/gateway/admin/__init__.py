"""Administrative operations shared by the CLI and the admin console, one module per area.

Every change writes one audit event with the actor, the subject and the changed fields before and
after (`audit.change`); never secrets. Who may call what is decided by the caller (the console's
permission table; the CLI runs with the operator's full rights on the server).
"""

from __future__ import annotations

from .accounts import create_user as create_user
from .accounts import department_id as department_id
from .accounts import department_name as department_name
from .accounts import reset_password as reset_password
from .accounts import reset_totp as reset_totp
from .accounts import set_disabled as set_disabled
from .accounts import set_local_password as set_local_password
from .accounts import unlock_user as unlock_user
from .accounts import update_user as update_user
from .accounts import user as user
from .assignments import AssignmentCheck as AssignmentCheck
from .assignments import apply_assignments as apply_assignments
from .assignments import assign as assign
from .assignments import check_assignments as check_assignments
from .assignments import import_assignments as import_assignments
from .assignments import unassign as unassign
from .errors import MAX_NAME as MAX_NAME
from .errors import MAX_REASON as MAX_REASON
from .errors import TOKEN_HOURS as TOKEN_HOURS
from .errors import AdminError as AdminError
from .hosts import cancel_enrollment_token as cancel_enrollment_token
from .hosts import create_enrollment_token as create_enrollment_token
from .hosts import create_enrollment_tokens as create_enrollment_tokens
from .hosts import register_host as register_host
from .hosts import revoke_host as revoke_host
from .pc_import import PcPlan as PcPlan
from .pc_import import apply_pc_plan as apply_pc_plan
from .pc_import import plan_pc_rows as plan_pc_rows
from .pc_import import rename_host as rename_host
from .policies import add_closed_days as add_closed_days
from .policies import remove_closed_day as remove_closed_day
from .policies import set_host_group as set_host_group
from .policies import set_policy as set_policy
from .scopes import change_scope as change_scope
from .sessions import HOLD_MINUTES as HOLD_MINUTES
from .sessions import check_end as check_end
from .sessions import record_session_end as record_session_end
from .staff_import import ImportResult as ImportResult
from .staff_import import StaffPlan as StaffPlan
from .staff_import import apply_staff_plan as apply_staff_plan
from .staff_import import import_event as import_event
from .staff_import import import_users as import_users
from .staff_import import plan_staff_rows as plan_staff_rows
from .terminals import check_new_terminals as check_new_terminals
from .terminals import issue_terminal_csr as issue_terminal_csr
from .terminals import issue_terminal_pkcs12 as issue_terminal_pkcs12
from .terminals import make_terminal_bundles as make_terminal_bundles
from .terminals import register_terminals_pkcs12 as register_terminals_pkcs12
from .terminals import revocation_reason as revocation_reason
from .terminals import revoke_terminal as revoke_terminal
