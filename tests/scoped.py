"""A corpus where the documents of one region outscore, on one question, everything in the scope a user chose:
what a filter applied after scoring gets wrong (it keeps the top 50 of every document, then finds none of the
scope's among them)."""

from __future__ import annotations

from pathlib import Path

QUESTION = "文化产业资金怎么申请"
# More clauses than a leg's candidates (retrieval asks each for 50), each naming the topic twice.
CROWD = 120
# Clauses of the scope's document, each naming it once among other words: they score below every crowd clause.
OWN = 6


def write_crowded_corpus(folder: Path) -> tuple[str, str]:
    """Write the corpus; return the id of the document in scope and its region."""
    folder.mkdir(parents=True, exist_ok=True)
    crowd = "\n\n".join(f"第{n}条 文化产业资金怎么申请：申请文化产业资金，按文化产业资金规定办理。"
                        for n in range(1, CROWD + 1))
    (folder / "广州市文化产业资金管理办法.txt").write_text(f"广州市文化产业资金管理办法\n\n{crowd}\n", encoding="utf-8")
    own = "\n\n".join(f"第{n}条 会展企业举办第{n}类展会，场地租金、宣传推广、人员培训和安保服务等费用，"
                      "可以按规定申请市级文化产业资金补助，补助比例按项目评审结果确定。" for n in range(1, OWN + 1))
    (folder / "深圳市会展业扶持办法.txt").write_text(f"深圳市会展业扶持办法\n\n{own}\n", encoding="utf-8")
    return "深圳市会展业扶持办法", "深圳市"
