"""The results database: every run's records and machine.json in SQL (SQLite by default).

schema.py holds the tables, migrate.py brings a database to them (Alembic, scripts in
migrations/), engine.py opens one, ingest.py / export.py / listing.py move runs in, out
and list them. settings.py (no SQLAlchemy import) names the default file and the
writer's wait, for --help.
"""
