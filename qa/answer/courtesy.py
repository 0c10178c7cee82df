"""Courtesy without a question ("谢谢", "你好", "再见"): a short polite reply, no search."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from index.lang.script import to_simplified
from qa.answer.base import Answerer
from qa.records import Answer, Paragraph

if TYPE_CHECKING:
    from qa.plan import Plan

EXAMPLE = "江苏有哪些文化产业基金可以用？"
# Whole messages that are only courtesy (written from general knowledge of chat openings and closings).
THANKS = re.compile(r"^(?:好的?|嗯+|哦+|ok)?[，,\s]*(?:谢谢(?:你|您|啦|了)?|多谢|感谢(?:你|您)?|谢了|辛苦了?|"
                    r"thanks?|thank you)[！!。.~～\s]*$", re.IGNORECASE)
HELLO = re.compile(r"^(?:你好|您好|hi|hello|哈喽|嗨|在吗|在不在|有人吗)[！!。.~～？?\s]*$", re.IGNORECASE)
BYE = re.compile(r"^(?:再见|拜拜|bye|回头见|没有了|没了|没问题了|就这些)[！!。.~～\s]*$", re.IGNORECASE)
REPLIES = (
    (THANKS, "不客气！还有其他政策问题，可以直接问我。"),
    (HELLO, f"您好！我可以回答已收录政策文件中的问题，并注明依据的条款，例如“{EXAMPLE}”。"),
    (BYE, "好的，再见！有政策问题随时来问。"),
)


def courtesy_answer(question: str) -> Answer | None:
    """Return the polite reply to a message that is only courtesy, or None for a question."""
    text = question.strip()
    reply = next((r for pattern, r in REPLIES if pattern.match(text)), None)
    if reply is None:
        return None
    return Answer(parts=(Paragraph(reply),))


class CourtesyAnswerer(Answerer):
    """Replies politely to thanks, a greeting or a goodbye."""

    def answer(self, plan: Plan) -> Answer:
        """Return the polite reply to the courtesy the plan's question is."""
        answer = courtesy_answer(to_simplified(plan.question))
        assert answer is not None, "planned as courtesy: the question is courtesy"
        return answer
