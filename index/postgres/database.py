"""Connections to the backend's database, its SQL files, and which generation serves."""

from __future__ import annotations

import re
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from index.errors import DatabaseUnavailable

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

INSTALL = 'pip install "psycopg[binary,pool]" pgvector'
# A generation's schema: its tables live there and go with it.
GENERATION = re.compile(r"gen_[0-9a-z_]+")
# pgvector's HNSW scan returns at most ef_search rows (40 by default): it must exceed the candidates retrieval asks
# for. strict_order: a filtered scan goes on until k rows pass the filter, still in distance order.
SEARCH_SETTINGS = {"hnsw.ef_search": "200", "hnsw.iterative_scan": "strict_order"}
# A host refreshes each lease it holds this often; publish counts a lease whose heartbeat is older than the expiry
# (six missed beats: a host that died without releasing it) as gone.
LEASE_BEAT_SECONDS = 10
LEASE_EXPIRY_SECONDS = 60


def sql_file(name: str) -> str:
    """Return one of the backend's SQL files (package data)."""
    return (files(__package__) / name).read_text(encoding="utf-8")


def _modules() -> tuple[Any, Any]:
    """Return psycopg and pgvector's psycopg adapter, or raise DatabaseUnavailable with the install command."""
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as exc:
        raise DatabaseUnavailable(f"QA_DATABASE_URL 需要 Python 包 {exc.name}，但它没有安装；请运行 {INSTALL}") from exc
    return psycopg, register_vector


def _prepare(conn: psycopg.Connection, vectors: bool) -> None:
    """Register the vector type (when the extension exists) and the search settings on a new connection."""
    _, register_vector = _modules()
    if vectors:
        register_vector(conn)
    for name, value in SEARCH_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    conn.commit()


def connect(url: str, vectors: bool = True) -> psycopg.Connection:
    """Return a connection, or raise DatabaseUnavailable saying why."""
    psycopg, _ = _modules()
    try:
        conn = psycopg.connect(url)
        _prepare(conn, vectors)
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"无法连接 QA_DATABASE_URL 指向的 PostgreSQL（{type(exc).__name__}: {exc}）；"
                                  "请检查地址、用户和密码，以及服务器是否已安装 pgvector") from exc
    return conn  # type: ignore[no-any-return]


def pool(url: str, vectors: bool, size: int = 4) -> ConnectionPool:
    """Return an open pool of connections for serving: one process's request threads share it."""
    _modules()
    try:
        from psycopg_pool import ConnectionPool
    except ImportError as exc:
        raise DatabaseUnavailable(f"QA_DATABASE_URL 需要 Python 包 psycopg_pool；请运行 {INSTALL}") from exc
    opened = ConnectionPool(url, min_size=1, max_size=size, open=False,
                            configure=lambda conn: _prepare(conn, vectors))
    try:
        opened.open(wait=True, timeout=30)
    except Exception as exc:
        opened.close()
        raise DatabaseUnavailable(f"无法连接 QA_DATABASE_URL 指向的 PostgreSQL（{exc}）；"
                                  "请检查地址、用户和密码，以及服务器是否在运行") from exc
    return opened


def install_schema(conn: psycopg.Connection) -> None:
    """Create the extension and the control tables if they are missing."""
    psycopg, _ = _modules()
    try:
        conn.execute(sql_file("schema.sql"))
        conn.commit()
    except psycopg.errors.FeatureNotSupported as exc:  # no pgvector on the server
        raise DatabaseUnavailable(f"PostgreSQL 服务器没有 pgvector 扩展（{exc}）；请在服务器上安装 pgvector ≥ 0.8"
                                  "（README 的“PostgreSQL”一节）") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseUnavailable(f"当前数据库用户无权创建 pgvector 扩展或 policyqa 模式（{exc}）；"
                                  "请由管理员执行 CREATE EXTENSION vector 后重试") from exc


def serving(conn: psycopg.Connection) -> tuple[str, str | None] | None:
    """Return (serving generation, previous one), or None when nothing was published yet."""
    exists = conn.execute("SELECT to_regclass('policyqa.serving')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = conn.execute("SELECT generation, previous FROM policyqa.serving").fetchone()
    return (row[0], row[1]) if row else None
