"""The language floor: text patterns, tokens, sentences, numbering, regions, the measure vocabulary, boilerplate
and script conversion; pure functions that ingestion and answering share."""
