"""Which backend holds the knowledge base: the generation folders of QA_INDEX_DIR, or PostgreSQL when
QA_DATABASE_URL is set (index/postgres/: every host reads the generation one builder published there)."""

from __future__ import annotations

from index.embedding import PolicyEmbeddings
from index.knowledge import KnowledgeBase
from index.store import current_marker, needs_build, open_index, records_outdated
from qa.settings import Settings


def needs_first_build(settings: Settings, embeddings: PolicyEmbeddings | None) -> bool:
    """Return True when a start must build first: no serving generation in the folder, or in the database."""
    url = settings.database_url.get_secret_value()
    if not url:
        return needs_build(settings.index_dir, embeddings)
    from index.postgres.writer import serving_signature

    return serving_signature(url) is None


def needs_rewrite(settings: Settings) -> bool:
    """Return True when the serving generation is served as it is but a build should rewrite it (its records file
    is of an older format); never with a database, whose generations are written whole."""
    return not settings.database_url.get_secret_value() and records_outdated(settings.index_dir)


def open_knowledge_base(settings: Settings, embeddings: PolicyEmbeddings | None) -> KnowledgeBase:
    """Return the serving generation of the chosen backend."""
    url = settings.database_url.get_secret_value()
    if not url:
        return open_index(settings.index_dir, embeddings, settings.chroma_url)
    from index.postgres.store import open_database

    return open_database(url, embeddings)


def publish_build(settings: Settings, embeddings: PolicyEmbeddings | None) -> str | None:
    """After a build into the index folder: with a database, write its generation there and switch every host
    to it (unless the database serves that corpus already); return the database generation's name, or None."""
    url = settings.database_url.get_secret_value()
    if not url:
        return None
    from index.postgres.writer import export

    return export(url, settings.index_dir, embeddings, settings.chroma_url)


def serving_marker(settings: Settings) -> object | None:
    """Return what changes whenever a build publishes (cheap enough to poll every few seconds): the index folder's
    CURRENT pointer, or the generation the database serves; None when there is none yet."""
    url = settings.database_url.get_secret_value()
    if not url:
        return current_marker(settings.index_dir)
    from index.postgres.database import connect, serving

    with connect(url, vectors=False) as conn:
        named = serving(conn)
    return named[0] if named else None
