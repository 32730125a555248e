"""The Win32 bindings of the Windows agent (ctypes), and nothing else: one module per area, each with
one `Win32<Area>` class that is the real thing. Constants, structures and functions keep the names
Windows gives them. The backends (`capture/windows.py`, `input/windows.py`, `host/windows.py`,
`clipboard/windows.py`) use these through small protocols, so a test can put a fake in their place
where Wine lacks a call (docs/windows.md lists each one).

Every module imports on Linux (a type checker and the unit tests read the structure layouts there);
the classes raise OSError when constructed anywhere but Windows."""
