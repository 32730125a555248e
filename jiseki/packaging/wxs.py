"""The WiX source of the agent's MSI, from the list of the files to install: pure (text in, text out).

The MSI is built by wixl 0.101 (Debian 12's), which reads a subset of WiX 3. What it cannot express is
done afterwards on the built database by `fixup_queries` and `remove_file_table` (run by msibuild):

- component conditions and `Permanent` (the registry hand-off is written only when given and is not
  removed by an upgrade's removal of the old version: an upgrade run without properties keeps the
  enrollment's values);
- `Property Secure="yes"` (SecureCustomProperties, so that the properties reach the elevated install);
- `RegistryValue Type="expandable"` (wixl writes the value as a plain string: the Registry table
  marks REG_EXPAND_SZ by a "#%" prefix);
- `RemoveFile Name="*.pyc"`: the service's Python writes `__pycache__` beside the installed modules;
  without these rows an uninstall (or an upgrade's removal of the old version) leaves those folders,
  and so the install folder, behind.

`Property Hidden="yes"` is the plain property MsiHiddenProperties, written here.

Ids are hashes of the relative path and component GUIDs uuid5 of it (case-folded, as Windows compares
paths), so a rebuild gives the same components; the ProductCode is uuid5 of the version, so a rebuild
of one version is the same product (msiexec refuses it beside itself) and a new version upgrades it.
"""

from __future__ import annotations

import hashlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

WIX_NS = "http://schemas.microsoft.com/wix/2006/wi"
# Fixed for the life of the product: msiexec finds the installed version to replace by it.
UPGRADE_CODE = "B158080D-8D6F-4849-B75F-99E3019A4B8D"
# The uuid5 namespace of the component GUIDs and product codes.
GUID_NAMESPACE = uuid.UUID("8f3d39e1-d720-4595-a0b4-8e4519df60a3")

PRODUCT_NAME = "jiseki agent"
MANUFACTURER = "jiseki"
SERVICE_NAME = "jiseki-agent"
SERVICE_DISPLAY_NAME = "jiseki agent"
SERVICE_DESCRIPTION = (
    "Lets the registered staff member operate this desk PC from a telework terminal through the jiseki gateway."
)
PYTHON_EXE = "python.exe"
SERVICE_ARGUMENTS = "-m jiseki agent service"
CLEANUP_ARGUMENTS = "-m jiseki agent service --cleanup"
# A real uninstall only: an upgrade removes the old version too, and must keep %ProgramData%\jiseki.
CLEANUP_CONDITION = 'REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE'
# Where the cleanup runs: after StopServices (1900), DeleteServices (2000) and RemoveRegistryValues
# (2600), before RemoveFiles (3500), inside the InstallInitialize..InstallFinalize transaction a deferred
# action needs. A number, not Before="RemoveFiles": wixl 0.101 placed that at 1402, before
# InstallInitialize, where Windows refuses a deferred action (error 2762).
CLEANUP_SEQUENCE = 3400
DOWNGRADE_MESSAGE = "A newer version of jiseki agent is already installed. Uninstall it first to install this one."

AGENT_KEY = r"SOFTWARE\jiseki\Agent"
EVENTLOG_KEY = r"SYSTEM\CurrentControlSet\Services\EventLog\Application\jiseki"
# .NET's generic message file: Event Viewer shows each message as written ("%1"), not "description not found".
EVENT_MESSAGE_FILE = r"%SystemRoot%\Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll"
EVENT_TYPES_SUPPORTED = 7  # error, warning, information


@dataclass(frozen=True)
class HandOff:
    """A public property of the silent install written to HKLM\\SOFTWARE\\jiseki\\Agent when given."""

    prop: str
    value_name: str
    component: str
    hidden: bool = False


HAND_OFF = (
    HandOff("GATEWAY_URL", "GatewayUrl", "RegGatewayUrl"),
    HandOff("ENROLL_TOKEN", "EnrollToken", "RegEnrollToken", hidden=True),
)

# The default target, for the path-length check: Windows Installer works within MAX_PATH.
INSTALL_ROOT = "C:\\Program Files\\jiseki\\agent\\"
MAX_PATH = 260
# What wixl reads as the start of a preprocessor variable; it has no escape for it.
_WIXL_MANGLES = "$"
_FORBIDDEN = set('<>:"|?*\\') | {chr(c) for c in range(32)}

# msidbComponentAttributes: 64-bit, key path is a registry value, never removed by Windows Installer.
ATTR_64BIT = 256
ATTR_REGISTRY_KEY_PATH = 4
ATTR_PERMANENT = 16
# The compiled modules' names: CPython 3.13's cache tag (sys.implementation.cache_tag).
CACHE_TAG = "cpython-313"
# msidbRemoveFileInstallMode: on removal of the component.
REMOVE_ON_UNINSTALL = 2
# What wixl itself puts in SecureCustomProperties (MajorUpgrade's detection properties).
SECURE_FROM_WIXL = ("WIX_DOWNGRADE_DETECTED", "WIX_UPGRADE_DETECTED")


class PackageError(ValueError):
    """The files or the version cannot be made into an MSI; the message says which and why."""


def _digest(kind: str, path: str) -> str:
    return hashlib.sha256(f"{kind}:{path}".encode()).hexdigest()[:32].upper()


def windows_path(rel: str) -> str:
    return rel.replace("/", "\\")


def directory_id(rel_dir: str) -> str:
    return "INSTALLDIR" if rel_dir == "" else "d" + _digest("dir", rel_dir)


def pycache_id(rel_dir: str) -> str:
    return "p" + _digest("pycache", rel_dir)


def file_id(rel: str) -> str:
    return "f" + _digest("file", rel)


def component_id(rel: str) -> str:
    return "c" + _digest("component", rel)


def guid(key: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, key)).upper()


def component_guid(rel: str) -> str:
    """The same target file, the same component, in every build."""
    return guid("file:" + windows_path(rel).casefold())


def product_code(version: str) -> str:
    return guid("product:" + version)


def msi_version(text: str) -> str:
    """A version Windows Installer compares: major.minor.build (255.255.65535); a fourth field would be
    ignored by upgrades, so it is refused."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise PackageError(f"version {text!r} is not major.minor.build (numbers only): give one with --version")
    numbers = [int(p) for p in parts]
    limits = (255, 255, 65535)
    if any(n > limit for n, limit in zip(numbers, limits, strict=False)):
        raise PackageError(f"version {text!r}: Windows Installer allows at most 255.255.65535")
    return ".".join(str(n) for n in numbers)


def file_problems(files: Iterable[str]) -> list[str]:
    """Why files cannot be installed as given (empty when all can): bad relative paths or Windows
    names, two names Windows sees as one, targets past MAX_PATH."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for rel in files:
        path = PurePosixPath(rel)
        if not rel or path.is_absolute() or any(part in ("", ".", "..") for part in rel.split("/")):
            problems.append(f"{rel!r}: not a plain relative path")
            continue
        if any(ch in _FORBIDDEN for ch in rel) or any(part.endswith((" ", ".")) for part in path.parts):
            problems.append(f"{rel!r}: not a valid Windows file name")
        if "__pycache__" in path.parts:
            problems.append(f"{rel!r}: compiled caches are not installed (Python writes its own)")
        key = rel.casefold()
        if key in seen:
            problems.append(f"{rel!r} and {seen[key]!r} are one file on Windows")
        seen[key] = rel
        target = INSTALL_ROOT + windows_path(rel)
        if len(target) >= MAX_PATH:
            problems.append(f"{rel!r}: {len(target)} characters installed, Windows Installer allows {MAX_PATH - 1}")
    return problems


def wixl_problems(files: Iterable[str]) -> list[str]:
    """Names that are valid WiX but that wixl 0.101 would get wrong, silently: it writes an empty name
    for one that is not ASCII, and reads "$..." as a preprocessor variable (it has no escape)."""
    problems = []
    for rel in files:
        if not rel.isascii():
            problems.append(f"{rel!r}: wixl 0.101 drops names that are not ASCII")
        if any(ch in _WIXL_MANGLES for ch in rel):
            problems.append(f"{rel!r}: wixl reads '$' as a preprocessor variable")
    return problems


@dataclass
class _Folder:
    rel: str
    folders: dict[str, _Folder] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _tree(files: Sequence[str]) -> _Folder:
    root = _Folder("")
    for rel in sorted(files):
        folder = root
        parts = rel.split("/")
        for i, name in enumerate(parts[:-1]):
            folder = folder.folders.setdefault(name, _Folder("/".join(parts[: i + 1])))
        folder.files.append(rel)
    return root


def _walk(folder: _Folder) -> Iterable[_Folder]:
    yield folder
    for name in sorted(folder.folders):
        yield from _walk(folder.folders[name])


def python_folders(files: Sequence[str]) -> list[tuple[str, str]]:
    """(folder, a module of it) for each folder holding .py modules, where Python may write
    `__pycache__`; that module's component owns the removal of the cache."""
    found = []
    for folder in _walk(_tree(files)):
        modules = [rel for rel in folder.files if rel.endswith(".py")]
        if modules:
            found.append((folder.rel, modules[0]))
    return found


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, attrs)


def _add_folder(parent: ET.Element, folder: _Folder, source_root: str, refs: list[str]) -> None:
    if any(rel.endswith(".py") for rel in folder.files):
        # Never created by the install: the Directory row only names the folder for RemoveFile.
        _sub(parent, "Directory", Id=pycache_id(folder.rel), Name="__pycache__")
    for rel in folder.files:
        component = _sub(parent, "Component", Id=component_id(rel), Guid=component_guid(rel), Win64="yes")
        _sub(
            component,
            "File",
            Id=file_id(rel),
            Name=PurePosixPath(rel).name,
            Source=f"{source_root.rstrip('/')}/{rel}",
            KeyPath="yes",
        )
        if rel == PYTHON_EXE:
            _service(component)
        refs.append(component_id(rel))
    for name in sorted(folder.folders):
        child = folder.folders[name]
        element = _sub(parent, "Directory", Id=directory_id(child.rel), Name=name)
        _add_folder(element, child, source_root, refs)


def _service(component: ET.Element) -> None:
    _sub(
        component,
        "ServiceInstall",
        Id="AgentService",
        Name=SERVICE_NAME,
        DisplayName=SERVICE_DISPLAY_NAME,
        Description=SERVICE_DESCRIPTION,
        Type="ownProcess",
        Start="auto",
        ErrorControl="normal",
        Account="LocalSystem",
        Arguments=SERVICE_ARGUMENTS,
    )
    _sub(
        component,
        "ServiceControl",
        Id="AgentServiceControl",
        Name=SERVICE_NAME,
        Start="install",
        Stop="both",
        Remove="uninstall",
        Wait="yes",
    )


def _registry(parent: ET.Element, refs: list[str]) -> None:
    for hand_off in HAND_OFF:
        component = _sub(parent, "Component", Id=hand_off.component, Guid=guid("registry:" + hand_off.value_name))
        component.set("Win64", "yes")
        _sub(
            component,
            "RegistryValue",
            Root="HKLM",
            Key=AGENT_KEY,
            Name=hand_off.value_name,
            Type="string",
            Value=f"[{hand_off.prop}]",
            KeyPath="yes",
        )
        refs.append(hand_off.component)
    events = _sub(parent, "Component", Id="RegEventSource", Guid=guid("registry:EventSource"), Win64="yes")
    _sub(
        events,
        "RegistryValue",
        Root="HKLM",
        Key=EVENTLOG_KEY,
        Name="EventMessageFile",
        Type="expandable",
        Value=EVENT_MESSAGE_FILE,
        KeyPath="yes",
    )
    _sub(
        events,
        "RegistryValue",
        Root="HKLM",
        Key=EVENTLOG_KEY,
        Name="TypesSupported",
        Type="integer",
        Value=str(EVENT_TYPES_SUPPORTED),
    )
    refs.append("RegEventSource")


def product_wxs(files: Sequence[str], version: str, source_root: str, upgrade_code: str = UPGRADE_CODE) -> str:
    """The WiX source installing `files` (paths relative to `source_root`, "/"-separated; wixl wants
    `source_root` relative to the folder it runs in) into
    [ProgramFiles64Folder]\\jiseki\\agent, with the service, the registry hand-off and the clean uninstall."""
    if PYTHON_EXE not in files:
        raise PackageError(f"{PYTHON_EXE} is not among the files: the service and its cleanup run it")
    problems = file_problems(files)
    if problems:
        raise PackageError("cannot package these files:\n  " + "\n  ".join(problems))
    version = msi_version(version)
    wix = ET.Element("Wix", {"xmlns": WIX_NS})
    product = _sub(
        wix,
        "Product",
        Id=product_code(version),
        Name=PRODUCT_NAME,
        Manufacturer=MANUFACTURER,
        Version=version,
        UpgradeCode=upgrade_code.upper(),
        Language="1033",
    )
    _sub(
        product,
        "Package",
        InstallScope="perMachine",
        InstallerVersion="500",
        Compressed="yes",
        Manufacturer=MANUFACTURER,
        Description=f"{PRODUCT_NAME} {version}",
        Comments="The jiseki agent for Windows 10/11 x64 as a service.",
    )
    _sub(product, "MediaTemplate", EmbedCab="yes")
    _sub(product, "MajorUpgrade", DowngradeErrorMessage=DOWNGRADE_MESSAGE)
    hidden = ";".join(h.prop for h in HAND_OFF if h.hidden)
    _sub(product, "Property", Id="MsiHiddenProperties", Value=hidden)
    _sub(product, "Property", Id="ARPNOMODIFY", Value="1")

    refs: list[str] = []
    target = _sub(product, "Directory", Id="TARGETDIR", Name="SourceDir")
    program_files = _sub(target, "Directory", Id="ProgramFiles64Folder")
    jiseki = _sub(program_files, "Directory", Id="JisekiFolder", Name="jiseki")
    install_dir = _sub(jiseki, "Directory", Id="INSTALLDIR", Name="agent")
    _add_folder(install_dir, _tree(files), source_root, refs)
    _registry(install_dir, refs)

    # Deferred, as LocalSystem (not the user's token), before the files go; its failure is ignored so
    # that it never blocks an uninstall. wixl writes type 3154 (exe from a file | deferred |
    # no-impersonate | continue on error).
    _sub(
        product,
        "CustomAction",
        Id="AgentCleanup",
        FileKey=file_id(PYTHON_EXE),
        ExeCommand=CLEANUP_ARGUMENTS,
        Execute="deferred",
        Impersonate="no",
        Return="ignore",
    )
    sequence = _sub(product, "InstallExecuteSequence")
    custom = _sub(sequence, "Custom", Action="AgentCleanup", Sequence=str(CLEANUP_SEQUENCE))
    custom.text = CLEANUP_CONDITION

    feature = _sub(product, "Feature", Id="Agent", Level="1", Title=PRODUCT_NAME)
    for ref in refs:
        _sub(feature, "ComponentRef", Id=ref)

    ET.indent(wix, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(wix, encoding="unicode") + "\n"


def _sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def fixup_queries() -> list[str]:
    """SQL for msibuild: what wixl 0.101 cannot write (see the module's docstring)."""
    # Built from this module's constants only (no outside text), quoted by _sql all the same.
    queries = []
    attributes = ATTR_64BIT | ATTR_REGISTRY_KEY_PATH | ATTR_PERMANENT
    for hand_off in HAND_OFF:
        condition, component = _sql(hand_off.prop), _sql(hand_off.component)
        queries.append(
            f"UPDATE `Component` SET `Condition` = {condition}, `Attributes` = {attributes}"  # noqa: S608 - constants
            f" WHERE `Component` = {component}"
        )
    expandable = _sql("#%" + EVENT_MESSAGE_FILE)
    queries.append(
        f"UPDATE `Registry` SET `Value` = {expandable} WHERE `Name` = 'EventMessageFile'"  # noqa: S608 - constants
    )
    secure = _sql(";".join([*(h.prop for h in HAND_OFF), *SECURE_FROM_WIXL]))
    queries.append("DELETE FROM `Property` WHERE `Property` = 'SecureCustomProperties'")
    queries.append(
        f"INSERT INTO `Property` (`Property`, `Value`) VALUES ('SecureCustomProperties', {secure})"  # noqa: S608 - constants
    )
    return queries


def remove_file_table(files: Sequence[str], cache_tag: str = CACHE_TAG) -> str:
    """The RemoveFile table (msibuild's .idt import format): each `__pycache__` beside the installed
    modules, emptied and then removed with the component of a module next to it. Each module's .pyc
    is named as well as `*.pyc`: Wine's msiexec does not expand wildcards (Windows' does, and so
    also removes the .opt-N.pyc of an optimised run). The file rows sort before the folder rows."""
    lines = [
        "FileKey\tComponent_\tFileName\tDirProperty\tInstallMode",
        "s72\ts72\tL255\ts72\ti2",
        "RemoveFile\tFileKey",
    ]
    folders = python_folders(files)
    for folder, first in folders:
        owner, cache = component_id(first), pycache_id(folder)
        lines.append(f"r{_digest('pyc-all', folder)}\t{owner}\t*.pyc\t{cache}\t{REMOVE_ON_UNINSTALL}")
        for module in _modules_in(files, folder):
            name = f"{PurePosixPath(module).stem}.{cache_tag}.pyc"
            lines.append(f"r{_digest('pyc', module)}\t{owner}\t{name}\t{cache}\t{REMOVE_ON_UNINSTALL}")
    for folder, first in folders:
        owner, cache = component_id(first), pycache_id(folder)
        lines.append(f"s{_digest('pycache', folder)}\t{owner}\t\t{cache}\t{REMOVE_ON_UNINSTALL}")
    return "\r\n".join(lines) + "\r\n"


def _modules_in(files: Sequence[str], folder: str) -> list[str]:
    return sorted(rel for rel in files if rel.endswith(".py") and str(PurePosixPath(rel).parent) == (folder or "."))


def remove_file_rows(files: Sequence[str]) -> int:
    """How many rows `remove_file_table` writes."""
    return sum(2 + len(_modules_in(files, folder)) for folder, _ in python_folders(files))


def _rows(idt: str) -> list[list[str]]:
    """The rows of a table as `msiinfo export` prints it (three header lines, then tab-separated rows)."""
    return [line.split("\t") for line in idt.replace("\r\n", "\n").split("\n")[3:] if line]


def fixup_problems(tables: Mapping[str, str], files: Sequence[str]) -> list[str]:
    """What the built database lacks, read from its Component, Property, Registry, RemoveFile and
    InstallExecuteSequence tables as `msiinfo export` prints them: msibuild reports no error for a
    query that changes nothing, and wixl places sequenced actions on its own."""
    problems = []
    components = {row[0]: row for row in _rows(tables["Component"])}
    for hand_off in HAND_OFF:
        row = components.get(hand_off.component)
        if row is None or row[4] != hand_off.prop or int(row[3]) & ATTR_PERMANENT == 0:
            problems.append(f"component {hand_off.component}: not conditioned on {hand_off.prop} and permanent")
    properties = {row[0]: row[1] for row in _rows(tables["Property"])}
    secure = set(properties.get("SecureCustomProperties", "").split(";"))
    if not {h.prop for h in HAND_OFF} <= secure:
        problems.append(f"SecureCustomProperties lacks the hand-off properties: {sorted(secure)}")
    if properties.get("MsiHiddenProperties") != ";".join(h.prop for h in HAND_OFF if h.hidden):
        problems.append("MsiHiddenProperties is not set")
    values = {row[3]: row[4] for row in _rows(tables["Registry"])}
    if values.get("EventMessageFile") != "#%" + EVENT_MESSAGE_FILE:
        problems.append(f"EventMessageFile is not an expandable string: {values.get('EventMessageFile')!r}")
    sequence = {row[0]: (row[1], int(row[2])) for row in _rows(tables["InstallExecuteSequence"])}
    condition, at = sequence.get("AgentCleanup", ("", 0))
    after = max(sequence.get(a, ("", 1 << 30))[1] for a in ("InstallInitialize", "StopServices", "DeleteServices"))
    before = min(sequence.get(a, ("", 0))[1] for a in ("RemoveFiles", "InstallFinalize"))
    if not after < at < before or condition != CLEANUP_CONDITION:
        problems.append(f"the cleanup is not between the services' removal and RemoveFiles: {at} {condition!r}")
    removals, want = len(_rows(tables["RemoveFile"])), remove_file_rows(files)
    if removals != want:
        problems.append(f"RemoveFile holds {removals} rows, not {want}")
    return problems
