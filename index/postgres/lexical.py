"""Exact BM25 in SQL: a chunk's score is the sum, over the query's terms, of its posting weight (bm25s's own
float32 weight) times how often the query counts the term; never ts_rank.

Summing every posting of a common term costs most of a query (a term in half the chunks has half the chunks'
postings), so a query first scores only the chunks its rarer terms find, adding the common terms' weights for
those chunks alone; when the k-th score then exceeds the most the common terms could give any other chunk (the
sum of their largest weights: MaxScore), no other chunk can enter the top k and the answer is exact. Otherwise,
or when the rarer terms find too many chunks, every posting is summed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from index.postgres.tables import Tables
from index.retrieval import LexicalSearch, Scope

# A term in more than this share of the chunks is summed over all its postings only when the bound fails.
COMMON_SHARE = 0.02
# When the rarer terms have more postings than this, scoring their chunks one by one costs more than summing.
MAX_CANDIDATES = 20_000
# The bound must be beaten by more than float rounding (sums of float32 weights in float8).
MARGIN = 1e-6


@dataclass(frozen=True)
class Term:
    """A term's row: its id in the postings, document frequency, IDF and largest posting weight."""

    term_id: int
    df: int
    idf: float | None
    max_weight: float


class PostgresLexical(LexicalSearch):
    """BM25 over a generation's postings; scores and ranking equal LexicalIndex's (to float rounding)."""

    def __init__(self, tables: Tables, size: int) -> None:
        self._tables = tables
        self.size = size
        # Coverage asks for the same few hundred query-token IDFs over and over; a generation never changes.
        self._terms: dict[str, Term | None] = {}

    def vocabulary(self) -> Iterator[str]:
        """Return the tokens the corpus uses, streamed from the terms table."""
        with self._tables.pool.connection() as conn, conn.cursor(name="vocabulary") as cur:
            cur.execute(f"SELECT term FROM {self._tables.schema}.terms")
            for (term,) in cur:
                yield term

    def terms(self, tokens: list[str]) -> dict[str, Term | None]:
        """Return the rows of these tokens (None for a token the corpus never uses), fetched in one query."""
        missing = [t for t in dict.fromkeys(tokens) if t not in self._terms]
        if missing:
            with self._tables.pool.connection() as conn:
                rows = conn.execute(f"SELECT term, term_id, df, idf, max_weight FROM {self._tables.schema}.terms "
                                    "WHERE term = ANY(%s)", (missing,)).fetchall()
            found = {term: Term(term_id, df, idf, max_weight) for term, term_id, df, idf, max_weight in rows}
            self._terms.update((t, found.get(t)) for t in missing)
        return {t: self._terms[t] for t in tokens}

    def idf(self, token: str) -> float | None:
        """Return the inverse document frequency of a token, or None if the corpus never uses it."""
        term = self.terms([token])[token]
        return None if term is None or term.idf is None else float(term.idf)

    def search(self, tokens: list[str], k: int, extra: list[str] | None = None, extra_weight: float = 0.5,
               scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, score) pairs with a positive BM25 score, best first (ties by chunk order)."""
        # As LexicalIndex.search: a repeated query token counts each time; an extra token counts once, at
        # extra_weight, unless the question has it; a token the corpus lacks counts nothing.
        counts: dict[str, float] = {t: float(n) for t, n in Counter(tokens).items()}
        for t in dict.fromkeys(extra or ()):
            counts.setdefault(t, extra_weight)
        rows = self.terms(list(counts))
        query = {term: counts[t] for t, term in rows.items() if term is not None and term.df}
        if not query or k <= 0:
            return []
        common = {t: w for t, w in query.items() if t.df > COMMON_SHARE * self.size}
        rare = {t: w for t, w in query.items() if t not in common}
        if common and rare and sum(t.df for t in rare) <= MAX_CANDIDATES:
            hits = self._run(rare, common, k, scope)
            bound = sum(t.max_weight * w for t, w in common.items())
            if len(hits) == k and hits[-1][1] > bound * (1 + MARGIN):
                return hits
        return self._run(query, {}, k, scope)

    def _run(self, summed: dict[Term, float], added: dict[Term, float], k: int,
             scope: Scope | None) -> list[tuple[str, float]]:
        """Return the top k chunks among those the `summed` terms' postings reach, each scored with the `added`
        terms' weights for that chunk as well."""
        s = self._tables.schema
        where, params = self._tables.where(scope, "p")
        extra = ""
        if added:
            # The common terms' weights for one chunk: an index probe per term, on (term_id, region_no, chunk_no).
            extra = (f" + coalesce((SELECT sum(a.weight * n.weight) FROM unnest(%(added)s::int[], "
                     f"%(added_w)s::float8[]) AS n(term_id, weight) JOIN {s}.postings a ON a.term_id = n.term_id"
                     f" AND a.region_no = h.region_no AND a.chunk_no = h.chunk_no), 0)")
        query = (f"SELECT c.chunk_id, x.score FROM ("
                 f" SELECT h.chunk_no, h.score{extra} AS score FROM ("
                 f"  SELECT p.chunk_no, p.region_no, sum(p.weight * q.weight) AS score"
                 f"  FROM unnest(%(summed)s::int[], %(summed_w)s::float8[]) AS q(term_id, weight)"
                 f"  JOIN {s}.postings p ON p.term_id = q.term_id{where}"
                 f"  GROUP BY p.chunk_no, p.region_no) h"
                 f" ORDER BY score DESC, h.chunk_no LIMIT %(k)s) x"
                 f" JOIN {s}.chunks c ON c.chunk_no = x.chunk_no ORDER BY x.score DESC, x.chunk_no")
        values = {"summed": [t.term_id for t in summed], "summed_w": list(summed.values()),
                  "added": [t.term_id for t in added], "added_w": list(added.values()), "k": k, **params}
        with self._tables.pool.connection() as conn:
            # Never a prepared statement: its generic plan does not know how many postings the query's terms have
            # and chose to hash-join the whole postings table (163 ms for a query of 2,434 postings at 100k
            # clauses); planning afresh costs a fraction of a millisecond.
            rows = conn.execute(query, values, prepare=False).fetchall()
        return [(chunk_id, float(score)) for chunk_id, score in rows if score > 0]
