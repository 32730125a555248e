"""What the agent and the gateway both need to trust each other: the enrollment token format, PEM
and fingerprints, private files, the client TLS context. Imports nothing of either side."""
