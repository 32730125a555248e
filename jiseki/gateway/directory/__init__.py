"""Staff accounts from the organisation's directory (Active Directory or LDAP): login by binding as
the person, and synchronisation of the staff list. See `jiseki.config_directory` for the settings."""
