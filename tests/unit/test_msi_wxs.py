"""The agent's MSI as WiX source (`jiseki.packaging.wxs`), the fixups wixl cannot write, and which
requirement lines a Windows build takes (`jiseki.packaging.requirements`): pure, no wixl needed."""

from __future__ import annotations

import itertools
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jiseki.packaging import wxs
from jiseki.packaging.requirements import MarkerError, marker_holds, windows_requirements

ROOT = Path(__file__).resolve().parents[2]
W = "{" + wxs.WIX_NS + "}"
FILES = [
    "python.exe",
    "pythonw.exe",
    "python313.dll",
    "python313._pth",
    "python313.zip",
    "Lib/site-packages/jiseki/__init__.py",
    "Lib/site-packages/jiseki/agent/__init__.py",
    "Lib/site-packages/jiseki/agent/runner.py",
    "Lib/site-packages/jiseki/locale/ja/LC_MESSAGES/messages.mo",
    "Lib/site-packages/typing_extensions.py",
    "Lib/site-packages/numpy/_core/_multiarray_umath.cp313-win_amd64.pyd",
    "Lib/site-packages/tzdata/zoneinfo/Asia/Tokyo",
]
MSI_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,71}$")


def source(files: list[str] = FILES, version: str = "0.1.0") -> str:
    return wxs.product_wxs(files, version, "payload")


def parse(files: list[str] = FILES, version: str = "0.1.0") -> ET.Element:
    return ET.fromstring(source(files, version))


def one(root: ET.Element, path: str) -> ET.Element:
    found = root.findall(path)
    assert len(found) == 1, (path, found)
    return found[0]


def installed_paths(root: ET.Element) -> dict[str, ET.Element]:
    """Each File element by the path it is installed to below INSTALLDIR, read from the nesting."""
    out: dict[str, ET.Element] = {}

    def walk(element: ET.Element, here: list[str]) -> None:
        for child in element:
            if child.tag == W + "Directory":
                walk(child, [*here, child.get("Name", "")])
            elif child.tag == W + "Component":
                for file in child.findall(W + "File"):
                    out["/".join([*here, file.get("Name", "")])] = file

    walk(one(root, f".//{W}Directory[@Id='INSTALLDIR']"), [])
    return out


def test_the_product_installs_per_machine_from_one_file_and_upgrades_the_older_version() -> None:
    root = parse(version="0.1.1")
    assert root.tag == W + "Wix"
    product = one(root, W + "Product")
    assert product.get("Name") == "jiseki agent"
    assert product.get("Manufacturer") == "jiseki"
    assert product.get("Version") == "0.1.1"
    assert product.get("UpgradeCode") == wxs.UPGRADE_CODE
    assert product.get("Id") == wxs.product_code("0.1.1") != wxs.product_code("0.1.0")
    package = one(product, W + "Package")
    assert (package.get("InstallScope"), package.get("InstallerVersion"), package.get("Compressed")) == (
        "perMachine",
        "500",
        "yes",
    )
    assert one(product, W + "MediaTemplate").get("EmbedCab") == "yes"
    message = one(product, W + "MajorUpgrade").get("DowngradeErrorMessage") or ""
    assert message.isascii() and "newer version" in message


def test_the_files_go_under_program_files_jiseki_agent_one_component_each() -> None:
    root = parse()
    chain = [
        one(root, f".//{W}Directory[@Id='TARGETDIR']"),
        one(root, f".//{W}Directory[@Id='ProgramFiles64Folder']"),
        one(root, f".//{W}Directory[@Id='JisekiFolder']"),
        one(root, f".//{W}Directory[@Id='INSTALLDIR']"),
    ]
    assert [d.get("Name") for d in chain] == ["SourceDir", None, "jiseki", "agent"]
    assert all(child in list(parent) for parent, child in itertools.pairwise(chain))

    files = installed_paths(root)
    assert sorted(files) == sorted(FILES)
    for rel, file in files.items():
        assert file.get("Source") == f"payload/{rel}"
        assert file.get("KeyPath") == "yes"
        assert file.get("Id") == wxs.file_id(rel)
    components = root.findall(f".//{W}Component")
    file_components = [c for c in components if c.find(W + "File") is not None]
    assert len(file_components) == len(FILES)
    assert all(len(c.findall(W + "File")) == 1 for c in file_components)
    assert all(c.get("Win64") == "yes" for c in components)
    refs = [r.get("Id") for r in one(root, f".//{W}Feature").findall(W + "ComponentRef")]
    assert sorted(refs) == sorted(c.get("Id") for c in components)  # every component is installed
    assert len(set(refs)) == len(refs)


def test_python_exe_carries_the_service_installed_and_controlled() -> None:
    root = parse()
    [component] = [c for c in root.iter(W + "Component") if c.find(f"{W}File[@Name='python.exe']") is not None]
    install = one(component, W + "ServiceInstall")
    assert {k: install.get(k) for k in ("Name", "DisplayName", "Type", "Start", "ErrorControl", "Account")} == {
        "Name": "jiseki-agent",
        "DisplayName": "jiseki agent",
        "Type": "ownProcess",
        "Start": "auto",
        "ErrorControl": "normal",
        "Account": "LocalSystem",
    }
    assert install.get("Arguments") == "-m jiseki agent service"
    assert install.get("Description")
    assert install.get("Id")  # wixl asserts without one
    control = one(component, W + "ServiceControl")
    assert {k: control.get(k) for k in ("Name", "Start", "Stop", "Remove", "Wait")} == {
        "Name": "jiseki-agent",
        "Start": "install",
        "Stop": "both",
        "Remove": "uninstall",
        "Wait": "yes",
    }
    assert len(root.findall(f".//{W}ServiceInstall")) == 1


def test_the_registry_hand_off_the_hidden_token_and_the_event_log_source() -> None:
    root = parse()
    values = {v.get("Name"): v for v in root.iter(W + "RegistryValue")}
    for name, prop in (("GatewayUrl", "GATEWAY_URL"), ("EnrollToken", "ENROLL_TOKEN")):
        value = values[name]
        assert (value.get("Root"), value.get("Key"), value.get("Type"), value.get("Value")) == (
            "HKLM",
            r"SOFTWARE\jiseki\Agent",
            "string",
            f"[{prop}]",
        )
        assert value.get("KeyPath") == "yes"
    # Each hand-off value in a component of its own: it is conditioned on its own property (fixups).
    owners = {v.get("Name"): c.get("Id") for c in root.iter(W + "Component") for v in c.findall(W + "RegistryValue")}
    assert owners["GatewayUrl"] == "RegGatewayUrl"
    assert owners["EnrollToken"] == "RegEnrollToken"
    events = r"SYSTEM\CurrentControlSet\Services\EventLog\Application\jiseki"
    assert (values["EventMessageFile"].get("Key"), values["EventMessageFile"].get("Type")) == (events, "expandable")
    assert values["EventMessageFile"].get("Value") == (
        r"%SystemRoot%\Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll"
    )
    assert (values["TypesSupported"].get("Type"), values["TypesSupported"].get("Value")) == ("integer", "7")
    properties = {p.get("Id"): p.get("Value") for p in root.iter(W + "Property")}
    assert properties["MsiHiddenProperties"] == "ENROLL_TOKEN"


def test_the_cleanup_runs_deferred_as_local_system_on_a_real_uninstall_only() -> None:
    root = parse()
    action = one(root, f".//{W}CustomAction")
    assert action.get("FileKey") == wxs.file_id("python.exe")
    assert action.get("ExeCommand") == "-m jiseki agent service --cleanup"
    assert (action.get("Execute"), action.get("Impersonate"), action.get("Return")) == ("deferred", "no", "ignore")
    custom = one(root, f".//{W}InstallExecuteSequence/{W}Custom")
    # A number, after StopServices/DeleteServices (1900/2000), before RemoveFiles (3500): wixl 0.101
    # placed Before="RemoveFiles" at 1402, outside the transaction a deferred action needs.
    assert (custom.get("Action"), custom.get("Sequence"), custom.get("Before")) == (action.get("Id"), "3400", None)
    assert custom.text == 'REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE'


def test_ids_and_guids_are_the_same_in_every_build_of_the_files() -> None:
    shuffled = list(FILES)
    random.Random(7).shuffle(shuffled)
    assert source(shuffled) == source(FILES)
    first, second = parse(version="0.1.0"), parse(version="0.1.1")
    guids = [{c.get("Id"): c.get("Guid") for c in r.iter(W + "Component")} for r in (first, second)]
    assert guids[0] == guids[1]  # a new version has the same components: clean major upgrades
    # Identifiers of the database's rows (a ComponentRef repeats its component's; the Product's is a GUID).
    ids = [
        e.get("Id")
        for e in first.iter()
        if e.get("Id") is not None and e.tag not in (W + "ComponentRef", W + "Product")
    ]
    assert len(ids) == len(set(ids))
    assert all(MSI_ID.match(i or "") for i in ids), [i for i in ids if not MSI_ID.match(i or "")]
    # Windows compares paths without case: one target, one component GUID.
    assert wxs.component_guid("Lib/site-packages/A.py") == wxs.component_guid("lib/SITE-packages/a.py")
    assert wxs.component_guid("a.py") != wxs.component_guid("b.py")
    assert wxs.product_code("0.1.0") == wxs.product_code("0.1.0")


def test_odd_file_names_are_escaped_and_come_back_unchanged() -> None:
    odd = [
        "Lib/site-packages/odd/a b&c.txt",
        "Lib/site-packages/odd/<tag>'quote'.txt".replace("<", "(").replace(">", ")"),
        "Lib/site-packages/odd/[x]{y}!(loc.z).txt",
        "Lib/site-packages/日本語/データ.txt",
        "Lib/site-packages/odd/percent%20%SystemRoot%.txt",
    ]
    text = source([*FILES, *odd])
    assert "a b&amp;c.txt" in text
    files = installed_paths(ET.fromstring(text))
    for rel in odd:
        assert rel in files
        assert files[rel].get("Source") == f"payload/{rel}"
    # Valid WiX, but wixl 0.101 would lose these two silently: the build refuses them instead.
    assert wxs.wixl_problems(odd) == [
        f"{odd[3]!r}: wixl 0.101 drops names that are not ASCII",
    ]
    assert wxs.wixl_problems(["Lib/a$b.txt"]) == ["'Lib/a$b.txt': wixl reads '$' as a preprocessor variable"]


def test_deep_paths_keep_short_ids_and_past_max_path_are_refused() -> None:
    deep = "Lib/site-packages/" + "/".join(f"level{i:03d}" for i in range(20)) + "/module.py"
    root = parse([*FILES, deep])
    file = installed_paths(root)[deep]
    assert len(file.get("Id") or "") == len(wxs.file_id("python.exe")) == 33
    assert wxs.file_problems([deep]) == []
    too_long = "Lib/site-packages/" + "x" * 200 + "/" + "y" * 20 + ".py"
    [problem] = wxs.file_problems([too_long])
    assert "Windows Installer allows 259" in problem
    with pytest.raises(wxs.PackageError, match="cannot package these files"):
        source([*FILES, too_long])


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("../outside.txt", "not a plain relative path"),
        ("/etc/passwd", "not a plain relative path"),
        ("Lib//double.txt", "not a plain relative path"),
        ("Lib/./dot.txt", "not a plain relative path"),
        ("Lib/a:b.txt", "not a valid Windows file name"),
        ("Lib/trailing.", "not a valid Windows file name"),
        ("Lib/back\\slash.txt", "not a valid Windows file name"),
        ("Lib/jiseki/__pycache__/x.cpython-313.pyc", "compiled caches are not installed"),
    ],
)
def test_files_windows_cannot_hold_are_refused(rel: str, why: str) -> None:
    [problem] = wxs.file_problems([rel])
    assert why in problem


def test_two_names_windows_sees_as_one_are_refused_and_the_service_needs_python() -> None:
    assert wxs.file_problems(["Lib/README.txt", "lib/readme.TXT"]) == [
        "'lib/readme.TXT' and 'Lib/README.txt' are one file on Windows"
    ]
    with pytest.raises(wxs.PackageError, match=r"python\.exe is not among the files"):
        source([f for f in FILES if f != "python.exe"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.1.0", "0.1.0"), ("0.1", "0.1"), ("01.2.3", "1.2.3"), ("255.255.65535", "255.255.65535")],
)
def test_msi_versions(text: str, expected: str) -> None:
    assert wxs.msi_version(text) == expected


@pytest.mark.parametrize("text", ["1.2.3.4", "0.1.0.dev1", "0.1.0rc1", "256.0.0", "0.256.0", "0.1.65536", "1", ""])
def test_versions_windows_installer_cannot_compare_are_refused(text: str) -> None:
    with pytest.raises(wxs.PackageError):
        wxs.msi_version(text)


def test_each_pycache_is_emptied_and_removed_with_a_module_of_its_folder() -> None:
    rows = [line.split("\t") for line in wxs.remove_file_table(FILES).split("\r\n")[3:] if line]
    assert len(rows) == wxs.remove_file_rows(FILES)
    folders = dict(wxs.python_folders(FILES))
    assert sorted(folders) == [
        "Lib/site-packages",
        "Lib/site-packages/jiseki",
        "Lib/site-packages/jiseki/agent",
    ]
    by_cache = {wxs.pycache_id(folder): folder for folder in folders}
    names: dict[str, set[str]] = {folder: set() for folder in folders}
    for key, owner, name, directory, mode in rows:
        folder = by_cache[directory]
        assert owner == wxs.component_id(folders[folder])  # a module of that very folder
        assert mode == "2"  # on removal
        names[folder].add(name)
    assert names["Lib/site-packages/jiseki/agent"] == {
        "*.pyc",
        "__init__.cpython-313.pyc",
        "runner.cpython-313.pyc",
        "",
    }
    assert names["Lib/site-packages"] == {"*.pyc", "typing_extensions.cpython-313.pyc", ""}
    # The folders go after their files (the rows are processed in key order), and keys are unique.
    kinds = ["folder" if name == "" else "file" for _, _, name, _, _ in rows]
    assert kinds == sorted(kinds, key=lambda k: k == "folder")
    assert sorted(r[0] for r in rows if r[2]) < sorted(r[0] for r in rows if not r[2])
    assert len({r[0] for r in rows}) == len(rows)
    # Each cache folder is named in the source (never created: it has no component).
    root = parse()
    for folder in folders:
        cache = one(root, f".//{W}Directory[@Id='{wxs.pycache_id(folder)}']")
        assert cache.get("Name") == "__pycache__"
        assert len(cache) == 0


def exported(table: str, rows: list[list[str]]) -> str:
    """A table as `msiinfo export` prints it: column names, types, table name, rows."""
    return "\r\n".join(["cols", "types", table, *("\t".join(r) for r in rows)]) + "\r\n"


def good_tables() -> dict[str, str]:
    rows = [line.split("\t") for line in wxs.remove_file_table(FILES).split("\r\n")[3:] if line]
    return {
        "Component": exported(
            "Component",
            [
                ["RegGatewayUrl", "{A}", "INSTALLDIR", "276", "GATEWAY_URL", "reg1"],
                ["RegEnrollToken", "{B}", "INSTALLDIR", "276", "ENROLL_TOKEN", "reg2"],
            ],
        ),
        "Property": exported(
            "Property",
            [
                ["MsiHiddenProperties", "ENROLL_TOKEN"],
                ["SecureCustomProperties", "GATEWAY_URL;ENROLL_TOKEN;WIX_UPGRADE_DETECTED"],
            ],
        ),
        "Registry": exported(
            "Registry", [["reg3", "2", "KEY", "EventMessageFile", "#%" + wxs.EVENT_MESSAGE_FILE, "RegEventSource"]]
        ),
        "RemoveFile": exported("RemoveFile", rows),
        "InstallExecuteSequence": exported(
            "InstallExecuteSequence",
            [
                ["RemoveExistingProducts", "", "1401"],
                ["InstallInitialize", "", "1500"],
                ["StopServices", "VersionNT", "1900"],
                ["DeleteServices", "VersionNT", "2000"],
                ["AgentCleanup", 'REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE', "3400"],
                ["RemoveFiles", "", "3500"],
                ["InstallFinalize", "", "6600"],
            ],
        ),
    }


def test_the_fixups_condition_the_hand_off_keep_it_and_pass_it_to_the_elevated_install() -> None:
    queries = wxs.fixup_queries()
    assert (
        "UPDATE `Component` SET `Condition` = 'GATEWAY_URL', `Attributes` = 276 WHERE `Component` = 'RegGatewayUrl'"
        in queries
    )
    assert (
        "UPDATE `Component` SET `Condition` = 'ENROLL_TOKEN', `Attributes` = 276 WHERE `Component` = 'RegEnrollToken'"
        in queries
    )
    assert 276 == wxs.ATTR_64BIT | wxs.ATTR_REGISTRY_KEY_PATH | wxs.ATTR_PERMANENT
    [secure] = [q for q in queries if "INSERT" in q and "SecureCustomProperties" in q]
    assert "'GATEWAY_URL;ENROLL_TOKEN;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED'" in secure
    # The DELETE comes first: the INSERT replaces what wixl wrote.
    assert queries.index("DELETE FROM `Property` WHERE `Property` = 'SecureCustomProperties'") < queries.index(secure)
    [registry] = [q for q in queries if "`Registry`" in q]
    assert "'#%%SystemRoot%" in registry and "WHERE `Name` = 'EventMessageFile'" in registry
    assert wxs.fixup_problems(good_tables(), FILES) == []


@pytest.mark.parametrize(
    ("table", "old", "new", "problem"),
    [
        ("Component", "276\tGATEWAY_URL", "260\tGATEWAY_URL", "RegGatewayUrl: not conditioned"),
        ("Component", "276\tENROLL_TOKEN", "276\t", "RegEnrollToken: not conditioned"),
        ("Property", "GATEWAY_URL;ENROLL_TOKEN;", "", "SecureCustomProperties lacks"),
        ("Property", "MsiHiddenProperties\tENROLL_TOKEN", "Other\tx", "MsiHiddenProperties is not set"),
        ("Registry", "#%", "", "EventMessageFile is not an expandable string"),
        (
            "InstallExecuteSequence",
            "UPGRADINGPRODUCTCODE\t3400",
            "UPGRADINGPRODUCTCODE\t1402",
            "cleanup is not between",
        ),
        (
            "InstallExecuteSequence",
            "UPGRADINGPRODUCTCODE\t3400",
            "UPGRADINGPRODUCTCODE\t3600",
            "cleanup is not between",
        ),
        (
            "InstallExecuteSequence",
            'REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE',
            'REMOVE="ALL"',
            "cleanup is not between",
        ),
    ],
)
def test_a_fixup_msibuild_did_not_make_is_found(table: str, old: str, new: str, problem: str) -> None:
    tables = good_tables()
    assert old in tables[table]
    tables[table] = tables[table].replace(old, new)
    problems = wxs.fixup_problems(tables, FILES)
    assert len(problems) == 1 and problem in problems[0], problems


def test_missing_remove_file_rows_are_found() -> None:
    tables = good_tables()
    tables["RemoveFile"] = exported("RemoveFile", [])
    assert wxs.fixup_problems(tables, FILES) == [f"RemoveFile holds 0 rows, not {wxs.remove_file_rows(FILES)}"]


def test_windows_takes_its_own_requirement_lines_and_drops_the_linux_ones() -> None:
    lines = [
        "# a comment",
        "",
        "aiohttp>=3.13,<4  # trailing comment",
        'mss>=10.1,<11; sys_platform == "linux"',
        "pywin32>=306; sys_platform == 'win32'",
        'colorama; sys_platform != "linux"',
        'old-backport; python_version < "3.12"',
        'new-thing; python_version >= "3.12" and os_name == "nt"',
        'either; sys_platform == "darwin" or platform_system == "Windows"',
        'neither; sys_platform == "darwin" or platform_system == "Linux"',
    ]
    assert windows_requirements(lines) == ["aiohttp>=3.13,<4", "pywin32>=306", "colorama", "new-thing", "either"]


@pytest.mark.parametrize(
    "line",
    [
        'x; (sys_platform == "win32")',
        'x; platform_release == "10"',
        'x; sys_platform > "linux"',
        "x; sys_platform == win32",
        "-r other.txt",
    ],
)
def test_markers_and_options_it_cannot_read_are_errors_not_guesses(line: str) -> None:
    with pytest.raises(MarkerError):
        windows_requirements([line])


def test_the_agents_requirement_files_give_the_windows_packages() -> None:
    lines = [
        *(ROOT / "requirements/common.txt").read_text("utf-8").splitlines(),
        *(ROOT / "requirements/agent.txt").read_text("utf-8").splitlines(),
    ]
    names = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower() for r in windows_requirements(lines)}
    assert {"aiohttp", "cryptography", "numpy", "pillow", "simplejpeg", "xxhash", "babel", "tzdata"} <= names
    assert names.isdisjoint({"mss", "psutil", "python-xlib", "sqlalchemy"})
    assert marker_holds('sys_platform == "win32" and python_version == "3.13"')
