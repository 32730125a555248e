"""jiseki (自席): operate your own office desk PC from a registered telework terminal."""

__version__ = "0.1.0"
