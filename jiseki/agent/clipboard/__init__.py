"""Clipboard access on the office PC (only used when the session's policy allows a direction)."""
