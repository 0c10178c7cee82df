"""The SQLite stores the service and the surfaces keep: conversations, feedback, the question log, pseudonymous
user ids; a full disk is an outage logged once, not an error per message."""
