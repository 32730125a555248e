"""Parse an assignments CSV (pure): which staff member may use which office PC.

Columns: login ID and PC ID (English or Japanese headers), and optionally an action, "assign"
(追加, the default) or "remove" (削除). Encoding and per-row errors work as for the staff CSV.
"""

from __future__ import annotations

from dataclasses import dataclass

from jiseki.i18n import N_

from .auth.accounts import valid_login_id
from .auth.users_csv import LOGIN_ID_HEADERS, RowError, cell_of, data_rows, read_records
from .hosts import valid_host_id

_HEADERS = {
    "login_id": LOGIN_ID_HEADERS,
    "host_id": ("host_id", "host", "pc", "pc_id", "pcid", "自席pc", "自席pcid", "接続先pc", "pc名"),
    "action": ("action", "操作", "処理"),
}
_ACTIONS = {"": "assign", "assign": "assign", "add": "assign", "追加": "assign", "remove": "remove", "削除": "remove"}


@dataclass(frozen=True)
class AssignmentRow:
    line: int
    login_id: str
    host_id: str
    action: str  # assign / remove


def parse_assignments_csv(text: str) -> tuple[list[AssignmentRow], list[RowError]]:
    records, columns, errors = read_records(text, _HEADERS, ("login_id", "host_id"))
    data = data_rows(records, errors)
    if isinstance(data, RowError):
        return [], [data]
    rows: list[AssignmentRow] = []
    seen: dict[tuple[str, str], int] = {}
    for number, record, cells in data:
        login_id, host_id = cell_of(columns, record, "login_id"), cell_of(columns, record, "host_id")
        action_text = cell_of(columns, record, "action")
        action = _ACTIONS.get(action_text.lower())
        problems: list[RowError] = []
        if not valid_login_id(login_id):
            problems.append(
                RowError(
                    number,
                    N_("The login ID “{value}” is not valid: use 1-64 letters, digits or . _ - @."),
                    {"value": login_id[:80]},
                    cells,
                )
            )
        if not valid_host_id(host_id):
            problems.append(
                RowError(
                    number,
                    N_("The PC ID “{value}” is not valid: use 1-64 letters, digits or . _ -."),
                    {"value": host_id[:80]},
                    cells,
                )
            )
        if action is None:
            problems.append(
                RowError(
                    number,
                    N_("The action “{value}” is unknown: use assign (追加) or remove (削除)."),
                    {"value": action_text[:40]},
                    cells,
                )
            )
        if (login_id, host_id) in seen:
            problems.append(
                RowError(
                    number,
                    N_("This pair already appears on line {line}."),
                    {"line": seen[(login_id, host_id)]},
                    cells,
                )
            )
        if problems:
            errors.extend(problems)
            continue
        assert action is not None
        seen[(login_id, host_id)] = number
        rows.append(AssignmentRow(number, login_id, host_id, action))
    return rows, errors
