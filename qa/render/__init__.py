"""Renderings of answers for each surface: plain text, chat-app text, the page's Markdown and HTML."""
