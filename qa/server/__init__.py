"""Channels and stores around the assistant: the HTTP app (REST, OpenAI, WeChat, admin), the loader that opens
the index in the background, and the SQLite stores for conversations, feedback and the question log.

Nothing is imported here: the command line uses qa.server.redact without loading the web stack."""
