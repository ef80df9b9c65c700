"""The claims ledger: SQLAlchemy models, the engine, and Alembic migrations."""
