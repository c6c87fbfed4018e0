"""Shared fixtures: an App on a temporary SQLite file (or a fresh PostgreSQL schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import App, build_app
from bot.settings import Settings

PG_URL = os.environ.get("TOUSU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TOUSU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NOW = datetime.fromisoformat("2026-11-23T09:00:00+08:00")  # a Monday


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer .env or TOUSU_* variable leaks into a test."""
    for key in list(os.environ):
        if key.startswith("TOUSU_") and not key.startswith("TOUSU_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TOUSU_CACHE_DIR", str(Path.home() / ".cache" / "tousu-tests"))


def _unavailable(what: str, reason: str) -> None:
    """Skip where the service does not run; on CI (CI=true) it must run, so fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} must be available on CI: {reason}")
    pytest.skip(f"{what} not available here: {reason}")


@pytest.fixture(scope="session")
def pg_available() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"),
                             connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        _unavailable("PostgreSQL", str(exc).strip().splitlines()[0])
    return PG_URL


@pytest.fixture
def pg_url(pg_available: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_available, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_available else "?"
    yield f"{pg_available}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(pg_available, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", str(exc))
    return REDIS_URL


AppFactory = Callable[..., App]


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """Build an App on a temporary SQLite file; keyword arguments override settings."""

    def factory(**overrides: Any) -> App:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path / 'tousu.db'}",
            "pack": "school", "now": NOW, "classifier": "keywords",
        }
        values.update(overrides)
        return build_app(Settings(_env_file=None, **values))  # type: ignore[call-arg]

    return factory


@pytest.fixture
def app(make_app: AppFactory) -> App:
    return make_app()
