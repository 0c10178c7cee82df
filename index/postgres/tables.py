"""A generation's tables as the search legs see them: the schema, the connection pool, and the filter a Scope
becomes inside a query (indexed region_no and doc_id columns, never a filter after scoring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.retrieval import Scope

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool


class Tables:
    """A generation's schema and the pool its queries run on."""

    def __init__(self, pool: ConnectionPool, schema: str, regions: dict[str, int]) -> None:
        self.pool, self.schema, self.regions = pool, schema, regions

    def where(self, scope: Scope | None, table: str) -> tuple[str, dict[str, object]]:
        """Return the SQL conditions (each starting with AND) and parameters that restrict `table` (postings or
        vectors: both have region_no and chunk_no) to a scope."""
        if scope is None:
            return "", {}
        sql, params = "", dict[str, object]()
        if scope.regions is not None:
            sql += f" AND {table}.region_no = ANY(%(regions)s)"
            params["regions"] = [self.regions[r] for r in scope.regions if r in self.regions]
        if scope.doc_ids is not None:
            # The documents' regions as well as their chunks: the postings index is ordered (term_id, region_no,
            # chunk_no), so a region is a range of it and the chunks are looked up inside that range only, instead
            # of reading every posting of the term and filtering. Each array is computed once per query.
            s = self.schema
            sql += (f" AND {table}.region_no = ANY(ARRAY(SELECT DISTINCT region_no FROM {s}.documents"
                    " WHERE doc_id = ANY(%(docs)s)))"
                    f" AND {table}.chunk_no = ANY(ARRAY(SELECT chunk_no FROM {s}.chunks WHERE doc_id = ANY(%(docs)s)))")
            params["docs"] = list(scope.doc_ids)
        return sql, params
