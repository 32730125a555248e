"""Gateway state in SQL (SQLite embedded, PostgreSQL for many nodes) with Alembic migrations."""
