"""The service check: is the agent installed as the Windows service and running, does the SCM restart
it on failure, which desktop receives input now (Default, or Winlogon at the lock screen), and is the
folder with the PC's key closed to ordinary users. The facts come from the platform
(`service/windows.py` `service_facts`); on a platform without the service the check is skipped."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jiseki.i18n import N_

from .checks import CheckResult, Note, Status, skipped

# SIDs that must not appear in the folder's DACL: Users, Authenticated Users, Everyone, Interactive.
_TOO_OPEN = (";BU)", ";AU)", ";WD)", ";IU)")

Facts = Mapping[str, object]


def check_service(service_facts: Callable[[], Facts] | None) -> CheckResult:
    if service_facts is None:
        return skipped("service", Note(N_("the agent runs as a Windows service on Windows only")))
    facts = dict(service_facts())
    state = str(facts.get("state"))
    desktop = facts.get("input_desktop")
    notes: list[Note] = []
    if desktop is None:
        notes.append(Note(N_("the input desktop cannot be opened from this account (run as administrator)")))
    acl = facts.get("folder_acl")
    if isinstance(acl, str) and any(sid in acl for sid in _TOO_OPEN):
        notes.append(
            Note(
                N_("the folder {folder} is readable by ordinary users: {acl}"),
                {"folder": facts.get("folder"), "acl": acl},
            )
        )
    delays = facts.get("restart_delays")
    if state == "running":
        status = Status.WARN if notes else Status.PASS
        if isinstance(delays, list) and not delays:
            notes.append(Note(N_("no restart on failure is set: restart the service once to set it")))
            status = Status.WARN
        detail = Note(
            N_("{service} is running; input desktop: {desktop}"),
            {"service": facts.get("name"), "desktop": desktop or "?"},
        )
        return CheckResult("service", status, detail, facts, tuple(notes))
    if state == "not_installed":
        detail = Note(N_("not installed as a service (started by hand): install the MSI to deploy"))
        return CheckResult("service", Status.WARN, detail, facts, tuple(notes))
    detail = Note(
        N_("{service} is installed but {state}: start it (sc start {service})"),
        {"service": facts.get("name"), "state": state},
    )
    return CheckResult("service", Status.FAIL, detail, facts, tuple(notes))
