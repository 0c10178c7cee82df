"""The stores the service and the surfaces keep: conversations, feedback, the question log, callback nonces, each
an interface in base.py with its SQLite implementation; user ids are pseudonymous, and a full disk is an outage
logged once, not an error per message."""
