"""The agent on the office PC: capture, encode, inject input, dial out to the gateway."""
