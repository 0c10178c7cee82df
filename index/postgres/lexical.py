"""Exact BM25 in SQL: a chunk's score is the sum, over the query's terms, of its posting weight (bm25s's own
float32 weight) times how often the query counts the term; never ts_rank.

Summing every posting of a common term costs most of a query (a term in a third of the chunks has a third of the
chunks' postings), so an unfiltered query reads each large term's postings by weight, largest first, only to a
depth (a threshold algorithm over impact-ordered lists): the chunks found are the candidates, each scored exactly
from its row of chunk_weights; a chunk found in no list has, for each term cut short, at most the weight where the
list was cut, so it scores at most the sum of those cuts. When the k-th candidate beats that bound the top k is
exact; otherwise the depth doubles, and when a round would read a large share of the postings every posting is
summed instead. A region or document filter sums the postings of the scope only (an index range)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from index.postgres.tables import Tables
from index.retrieval import LexicalSearch, Scope

# A query whose terms have at most this many postings in all is summed whole: one cheap query.
SMALL_QUERY = 20_000
# The first depth to which a large term's list is read; doubled while the bound fails.
FIRST_DEPTH = 1024
# A term with at most this many times the depth postings is read whole: a short list costs little to read and,
# once read whole, adds nothing to the bound.
WHOLE_FACTOR = 16
# When a round would read more than this share of the query's postings, summing them all costs less.
SUM_SHARE = 0.25
# How many candidates per result are scored exactly before the others' bounds are compared with the k-th score.
FIRST_SCORED = 4
# Bounds must be beaten by more than float rounding: float32 weights summed in float8 (the lists) and in float32
# (pgvector's inner product), a relative error far below this.
MARGIN = 1e-5


@dataclass(frozen=True)
class Term:
    """A term's row: its id in the postings, document frequency and IDF."""

    term_id: int
    df: int
    idf: float | None


class PostgresLexical(LexicalSearch):
    """BM25 over a generation's postings; scores and ranking equal LexicalIndex's (to float rounding)."""

    def __init__(self, tables: Tables, size: int, by_weight: bool = True) -> None:
        self._tables = tables
        self.size = size
        # False for a generation written before the lists by weight and chunk_weights existed: every posting summed.
        self._by_weight = by_weight
        # Coverage asks for the same few hundred query-token IDFs over and over; a generation never changes.
        self._terms: dict[str, Term | None] = {}
        self._dimensions = 0

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
                rows = conn.execute(f"SELECT term, term_id, df, idf FROM {self._tables.schema}.terms "
                                    "WHERE term = ANY(%s)", (missing,)).fetchall()
            found = {term: Term(term_id, df, idf) for term, term_id, df, idf in rows}
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
        postings = sum(t.df for t in query)
        # A top k near the depth would need the lists read nearly whole.
        if scope is None and self._by_weight and postings > SMALL_QUERY and 4 * k <= FIRST_DEPTH:
            depth = FIRST_DEPTH
            while True:
                depths = {t: t.df if t.df <= WHOLE_FACTOR * depth else depth for t in query}
                if sum(depths.values()) > SUM_SHARE * postings:
                    break
                hits, bound = self._by_weight_top(query, depths, k)
                if not bound or (len(hits) == k and hits[-1][1] > bound * (1 + MARGIN)):
                    return hits
                depth *= 2
        return self._sum(query, k, scope)

    def _sum(self, query: dict[Term, float], k: int, scope: Scope | None) -> list[tuple[str, float]]:
        """Return the top k chunks of a scope (every chunk for None), every posting of the query's terms summed."""
        s = self._tables.schema
        where, params = self._tables.where(scope, "p")
        sql = (f"SELECT c.chunk_id, x.score FROM ("
               f" SELECT p.chunk_no, sum(p.weight * q.weight) AS score"
               f" FROM unnest(%(terms)s::int[], %(weights)s::float8[]) AS q(term_id, weight)"
               f" JOIN {s}.postings p ON p.term_id = q.term_id{where}"
               f" GROUP BY p.chunk_no ORDER BY score DESC, p.chunk_no LIMIT %(k)s) x"
               f" JOIN {s}.chunks c ON c.chunk_no = x.chunk_no ORDER BY x.score DESC, x.chunk_no")
        values = {"terms": [t.term_id for t in query], "weights": list(query.values()), "k": k, **params}
        with self._tables.pool.connection() as conn:
            # Never a prepared statement: its generic plan does not know how many postings the query's terms have
            # and chose to hash-join the whole postings table (163 ms for a query of 2,434 postings at 100k
            # clauses); planning afresh costs a fraction of a millisecond.
            rows = conn.execute(sql, values, prepare=False).fetchall()
        return [(chunk_id, float(score)) for chunk_id, score in rows if score > 0]

    def _by_weight_top(self, query: dict[Term, float], depths: dict[Term, int],
                       k: int) -> tuple[list[tuple[str, float]], float]:
        """Return the top k of the chunks found in the first `depths` postings of each term's list by weight, and
        the most a chunk found in none of them can score (the sum of the cut-short lists' last weights)."""
        s = self._tables.schema
        # A candidate's known part (the weights found) plus the cuts of the lists it was not found in bounds its
        # score. The candidates of largest known part are scored exactly first; their k-th score is the bar the
        # others' bounds must reach to be scored at all (most candidates were found in one list and cannot).
        sql = (f"WITH q AS (SELECT * FROM unnest(%(terms)s::int[], %(weights)s::float8[], %(depths)s::int[],"
               f"  %(whole)s::bool[]) AS q(term_id, qw, depth, whole)),"
               f" seen AS MATERIALIZED (SELECT i.chunk_no, q.term_id, i.weight * q.qw AS w FROM q CROSS JOIN LATERAL"
               f"  (SELECT p.chunk_no, p.weight FROM {s}.postings p WHERE p.term_id = q.term_id"
               f"   ORDER BY p.weight DESC LIMIT q.depth) i),"
               f" cuts AS MATERIALIZED (SELECT q.term_id, CASE WHEN q.whole THEN 0 ELSE min(seen.w) END AS cut"
               f"  FROM q JOIN seen ON seen.term_id = q.term_id GROUP BY q.term_id, q.whole),"
               f" bound AS MATERIALIZED (SELECT coalesce(sum(cut), 0) AS b FROM cuts),"
               f" cand AS MATERIALIZED (SELECT seen.chunk_no, sum(seen.w) AS known, sum(cuts.cut) AS found_cut"
               f"  FROM seen JOIN cuts ON cuts.term_id = seen.term_id GROUP BY seen.chunk_no),"
               f" first AS MATERIALIZED (SELECT f.chunk_no, -(cw.weights <#> %(vector)s::sparsevec) AS score"
               f"  FROM (SELECT chunk_no FROM cand ORDER BY known DESC LIMIT %(first)s) f"
               f"  JOIN {s}.chunk_weights cw ON cw.chunk_no = f.chunk_no),"
               f" bar AS MATERIALIZED (SELECT coalesce((SELECT score FROM first ORDER BY score DESC"
               f"  OFFSET %(kth)s LIMIT 1), 0) AS score),"
               f" rest AS (SELECT cand.chunk_no, -(cw.weights <#> %(vector)s::sparsevec) AS score"
               f"  FROM cand JOIN {s}.chunk_weights cw ON cw.chunk_no = cand.chunk_no, bound, bar"
               f"  WHERE cand.known + bound.b - cand.found_cut >= bar.score * (1 - %(margin)s)"
               f"  AND NOT EXISTS (SELECT 1 FROM first WHERE first.chunk_no = cand.chunk_no)),"
               f" top AS (SELECT * FROM first UNION ALL SELECT * FROM rest ORDER BY score DESC, chunk_no LIMIT %(k)s)"
               f" SELECT c.chunk_id, top.score, bound.b FROM top JOIN {s}.chunks c ON c.chunk_no = top.chunk_no, bound"
               f" ORDER BY top.score DESC, top.chunk_no")
        ordered = sorted(query, key=lambda t: t.term_id)
        vector = "{" + ",".join(f"{t.term_id + 1}:{query[t]!r}" for t in ordered) + "}/" + str(self._dims())
        values = {"terms": [t.term_id for t in ordered], "weights": [query[t] for t in ordered],
                  "depths": [depths[t] for t in ordered], "whole": [depths[t] >= t.df for t in ordered],
                  "kth": k - 1, "k": k, "first": FIRST_SCORED * k, "vector": vector, "margin": MARGIN}
        with self._tables.pool.connection() as conn:
            rows = conn.execute(sql, values, prepare=False).fetchall()
        bound = float(rows[0][2]) if rows else 0.0
        return [(chunk_id, float(score)) for chunk_id, score, _ in rows if score > 0], bound

    def _dims(self) -> int:
        """Return the dimensions of chunk_weights' vectors: one per row of the terms table, as the writer sets."""
        if not self._dimensions:
            with self._tables.pool.connection() as conn:
                row = conn.execute(f"SELECT count(*) FROM {self._tables.schema}.terms").fetchone()
            self._dimensions = int(row[0]) if row else 0
        return self._dimensions
