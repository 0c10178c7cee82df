"""The chat page's server side: what the mounted page may answer, and its static files."""
