"""Character classes and patterns that ingestion and answering must agree on, defined once."""

from __future__ import annotations

import re

# CJK unified ideographs (with extension A) and compatibility ideographs, for use inside a character class.
CJK_CHARS = "\u3400-\u9fff\uf900-\ufaff"
CJK = re.compile(f"[{CJK_CHARS}]")
# Invisible characters that split words without showing: dropped from documents and questions alike.
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
HALF_WIDTH_BRACKETS = str.maketrans("（）", "()")
# The closing note of a clause naming who acts: "（省科技厅牵头，省财政厅等按职责分工负责）"; group 1 is its text.
AGENCY_NOTE = r"[（(]([^（()）]*(?:牵头|负责|责任单位|责任部门)[^（()）]*)[）)]"
# "到2025年": the year a target is due.
TARGET_YEAR = re.compile(r"到\s*(\d{4})\s*年")
