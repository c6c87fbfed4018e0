"""Persistence: SQLModel tables, repositories, unit of work, outbox, migrations."""
