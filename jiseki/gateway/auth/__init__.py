"""Staff authentication: passwords, one-time codes, throttling, web sessions, accounts."""
