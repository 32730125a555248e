"""`jiseki demo`: a virtual office PC, an agent on it and a gateway, all on this machine."""
