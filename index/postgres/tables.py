"""A generation's tables as the search legs see them: the schema, the connection pool, and the filter a Scope
becomes inside a query (indexed region_no and doc_id columns, never a filter after scoring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


@dataclass(frozen=True)
class Scope:
    """Which chunks a search may return: those of documents about these regions ('' for documents of no region)
    and of these documents; None places no limit."""

    regions: frozenset[str] | None = None
    doc_ids: frozenset[str] | None = None


class Tables:
    """A generation's schema and the pool its queries run on."""

    def __init__(self, pool: ConnectionPool, schema: str, regions: dict[str, int]) -> None:
        self.pool, self.schema, self.regions = pool, schema, regions

    def where(self, scope: Scope | None, table: str) -> tuple[str, dict[str, object]]:
        """Return the SQL conditions (each starting with AND) and parameters that restrict `table` to a scope."""
        if scope is None:
            return "", {}
        sql, params = "", dict[str, object]()
        if scope.regions is not None:
            sql += f" AND {table}.region_no = ANY(%(regions)s)"
            params["regions"] = [self.regions[r] for r in scope.regions if r in self.regions]
        if scope.doc_ids is not None:
            sql += (f" AND {table}.chunk_no IN (SELECT chunk_no FROM {self.schema}.chunks "
                    "WHERE doc_id = ANY(%(docs)s))")
            params["docs"] = list(scope.doc_ids)
        return sql, params
