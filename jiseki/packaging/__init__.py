"""Building installers of the agent: `jiseki agent package` (docs/windows.md).

`wxs` and `requirements` are pure (text in, text out); `windows_msi` does the downloads, the staging
folder and runs `wixl`."""
