"""Administrative operations shared by the CLI and the admin console, one module per area.

Every change writes one audit event with the actor, the subject and the changed fields before and
after (`audit.change`); never secrets. Who may call what is decided by the caller (the console's
permission table; the CLI runs with the operator's full rights on the server).
"""

from __future__ import annotations

from .accounts import ImportResult as ImportResult
from .accounts import check_staff_rows as check_staff_rows
from .accounts import create_user as create_user
from .accounts import department_id as department_id
from .accounts import department_name as department_name
from .accounts import import_users as import_users
from .accounts import reset_password as reset_password
from .accounts import reset_totp as reset_totp
from .accounts import set_disabled as set_disabled
from .accounts import unlock_user as unlock_user
from .accounts import update_user as update_user
from .accounts import user as user
from .assignments import AssignmentCheck as AssignmentCheck
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
from .policies import set_host_group as set_host_group
from .policies import set_policy as set_policy
from .sessions import HOLD_MINUTES as HOLD_MINUTES
from .sessions import record_session_end as record_session_end
from .terminals import issue_terminal_csr as issue_terminal_csr
from .terminals import issue_terminal_pkcs12 as issue_terminal_pkcs12
from .terminals import revoke_terminal as revoke_terminal
