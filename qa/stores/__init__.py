"""The stores the service and the surfaces keep: conversations, feedback, the question log, callback nonces, each
an interface in base.py with a SQLite implementation (one box) and a PostgreSQL one (postgres.py, every host), chosen
in factory.py; user ids are pseudonymous, and a full disk or a lost server is an outage logged once, not an error per
message."""
