"""Alembic's scripts for the results database (run by harness.db.migrate, never by hand)."""
