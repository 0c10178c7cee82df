"""The front door the surfaces use: the knowledge base opened (or built) in the background, answers and look-ups."""
