"""The one error type for malformed or out-of-limit protocol input."""


class ProtocolError(ValueError):
    """Raised for any input that is not a valid message; the connection should be closed."""
