"""One reader per document format; index/loading.py picks the reader by suffix."""
