"""Database engine, sessions and schema upgrade (Alembic), built once per process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API types
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """Owns the SQLAlchemy engine; hands out short-lived sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error.

        `write=True` is for transactions that read and then write: on SQLite it starts
        with BEGIN IMMEDIATE, taking the write lock up front (waiting `busy_timeout`),
        because a deferred transaction whose snapshot went stale fails at its first
        write instead of waiting. PostgreSQL needs nothing (row locks, READ COMMITTED).
        """
        with Session(self.engine, expire_on_commit=False) as session:
            if write and self.is_sqlite:
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def upgrade(self) -> None:
        """Bring the schema to the latest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection_url"] = self.url
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
