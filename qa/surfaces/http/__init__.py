"""The HTTP app: REST, the OpenAI-compatible API, admin routes, their schemas and middleware."""
