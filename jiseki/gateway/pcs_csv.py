"""Parse an office PC CSV in update mode (pure): rename PCs, put them in a PC group or in none, or
revoke them, keyed by PC ID. Registering new PCs is the enrollment tokens' CSV (enrollment_csv).

Columns: PC ID (required), PC name, PC group, action (更新 / 失効). An empty name or group cell
leaves it as it is; the group 「なし」 (or "-") takes the PC out of its group. Encoding and per-row
errors work as for the staff CSV.
"""

from __future__ import annotations

from dataclasses import dataclass

from jiseki.i18n import N_

from .auth.users_csv import RowError, cell_of, data_rows, read_records
from .hosts import valid_host_id
from .textclean import has_controls

MAX_NAME = 255
_HEADERS = {
    "host_id": ("host_id", "pc_id", "pcid", "pc id", "id", "自席pc id", "自席pcid", "pc id（自席pc）"),
    "name": ("name", "pc_name", "pc名", "pc 名", "名前", "表示名"),
    "group": ("group", "host_group", "pc_group", "pcグループ", "グループ"),
    "action": ("action", "処理", "操作"),
}
_ACTIONS = {"": "update", "update": "update", "更新": "update", "変更": "update", "revoke": "revoke", "失効": "revoke"}
NO_GROUP = frozenset({"なし", "（なし）", "(なし)", "-", "none"})


@dataclass(frozen=True)
class PcRow:
    line: int
    host_id: str
    name: str | None  # None: leave as it is
    group: str | None  # None: leave as it is; "": out of its group
    action: str  # update / revoke
    cells: tuple[str, ...] = ()


def parse_pcs_csv(text: str) -> tuple[list[PcRow], list[RowError]]:
    records, columns, errors = read_records(text, _HEADERS, ("host_id",))
    data = data_rows(records, errors)
    if isinstance(data, RowError):
        return [], [data]
    rows: list[PcRow] = []
    seen: dict[str, int] = {}
    for number, record, cells in data:
        host_id = cell_of(columns, record, "host_id")
        name = cell_of(columns, record, "name") or None
        group_text = cell_of(columns, record, "group")
        group = "" if group_text.lower() in NO_GROUP else (group_text or None)
        action_text = cell_of(columns, record, "action")
        action = _ACTIONS.get(action_text.lower())
        problems: list[str | tuple[str, dict[str, object]]] = []
        if not valid_host_id(host_id):
            problems.append(
                (N_("The PC ID “{value}” is not valid: use 1-64 letters, digits or . _ -."), {"value": host_id[:80]})
            )
        if action is None:
            problems.append((N_("The action “{value}” is unknown: use 更新 or 失効."), {"value": action_text[:40]}))
        for value in (name, group):
            if value is not None and (len(value) > MAX_NAME or has_controls(value)):
                problems.append(N_("A PC name or group must be 1-255 characters without control characters."))
                break
        if action == "update" and name is None and group is None:
            problems.append(N_("Nothing to change: give a PC name or a PC group (「なし」 takes it out of its group)."))
        if host_id in seen:
            problems.append((N_("This PC already appears on line {line}."), {"line": seen[host_id]}))
        if problems:
            for p in problems:
                msgid, values = p if isinstance(p, tuple) else (p, {})
                errors.append(RowError(number, msgid, values, cells))
            continue
        assert action is not None
        seen[host_id] = number
        rows.append(PcRow(number, host_id, name, group, action, cells))
    return rows, errors
