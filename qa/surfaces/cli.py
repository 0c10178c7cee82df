"""Command line: build, ask, batch, eval, feedback."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from qa.errors import PolicyQAError
from qa.settings import Settings, load_settings

if TYPE_CHECKING:  # the CLI imports the answering stages only when a command needs them
    from qa.render.record import BatchRecord

log = logging.getLogger("qa")
STDOUT = "标准输出"
# Why a write failed, in words the user can act on; other errors give the system's own text.
WRITE_FAILURES = {errno.ENOSPC: "磁盘空间不足", errno.EDQUOT: "磁盘配额已满", errno.EFBIG: "文件过大",
                  errno.EACCES: "没有写入权限", errno.EROFS: "文件系统只读", errno.EPIPE: "接收端已关闭"}


def _write_failed(where: str, exc: OSError) -> PolicyQAError:
    """Return the error for output that could not be written, naming where and why."""
    reason = WRITE_FAILURES.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return PolicyQAError(f"无法写入 {where}（{reason}）；请清理磁盘空间、检查权限或换一个输出路径")


def _output_path(path: Path | None) -> None:
    """Raise PolicyQAError when an output path (-o) is a folder, before any work is done."""
    if path is not None and path.is_dir():
        raise PolicyQAError(f"输出路径 {path} 是文件夹；请给出文件名，如 {path / 'answers.jsonl'}")


def _settings(args: argparse.Namespace) -> Settings:
    from qa.service.redact import register_settings

    index = getattr(args, "index", None)
    if index is not None and index.exists() and not index.is_dir():
        # Caught here: the build would otherwise fail on mkdir with FileExistsError.
        raise PolicyQAError(f"--index {index} 不是文件夹；请指定索引文件夹（不存在时会自动新建）")
    settings = load_settings(index_dir=index, corpus_dir=getattr(args, "corpus", None))
    register_settings(settings)
    return settings


class BadLine(ValueError):
    """One input line that is not a question record; the message says why and how to fix it."""


def _record(raw: bytes) -> dict:
    """Return the question record of one JSONL line, or raise BadLine saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadLine(f"不是有效的 UTF-8（第 {exc.start + 1} 个字节 0x{raw[exc.start]:02x}）；请另存为 UTF-8") from exc
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadLine(f"不是有效的 JSON（第 {exc.colno} 列：{exc.msg}）") from exc
    except RecursionError:
        # json recurses once per bracket: thousands of nested brackets exhaust the stack.
        raise BadLine("JSON 嵌套层数过深；问题记录只需一层对象，如 {\"id\": \"1\", \"question\": \"…\"}") from None
    if not isinstance(record, dict):
        raise BadLine('应为 JSON 对象，如 {"id": "1", "question": "…"}')
    if not isinstance(record.get("question"), str):
        raise BadLine('缺少字符串字段 question，如 {"id": "1", "question": "…"}')
    history = record.get("history") or []
    if not (isinstance(history, list) and all(isinstance(h, str) for h in history)):
        raise BadLine('history 应为字符串列表，如 ["之前的问题"]')
    return record


def _numbered_jsonl(path: Path) -> Iterator[tuple[int, dict | BadLine]]:
    """Yield (line number, record or BadLine) for every non-blank line: one bad line does not stop the rest."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if raw.strip():
                try:
                    yield number, _record(raw)
                except BadLine as exc:
                    yield number, exc


def _read_jsonl(path: Path) -> list[dict]:
    """Return every record of a JSONL file; a bad line is an error naming its line number."""
    records = []
    for number, item in _numbered_jsonl(path):
        if isinstance(item, BadLine):
            raise PolicyQAError(f"{path} 第 {number} 行：{item}")
        records.append(item)
    return records


def run_batch(records: Iterable[dict], settings: Settings) -> Iterator[BatchRecord]:
    """Yield the output record of each input question, answered by one assistant."""
    from qa.render.record import batch_record
    from qa.service import Service

    service = Service.open(settings)
    for record in records:
        answer = service.ask("cli", "", record["question"], record.get("history") or [])
        yield batch_record(str(record.get("id", "")), answer)


def cmd_build(args: argparse.Namespace) -> int:
    from qa.service import Service

    report = Service.build(_settings(args), progress=not args.quiet)
    _print(report.summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.render.plain import plain_text
    from qa.render.record import answer_json
    from qa.service import Service

    answer = Service.open(_settings(args)).ask("cli", "", args.question, args.history or [])
    _print(json.dumps(answer_json(answer), ensure_ascii=False, indent=1) if args.json else plain_text(answer))
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """Answer every good line, report each bad one by line number on stderr; exit 1 when any line failed."""
    from qa.render.record import batch_record
    from qa.service import Service

    if not args.input.is_file():
        raise FileNotFoundError(2, "not found", str(args.input))
    _output_path(args.output)
    service = Service.open(_settings(args))
    failed = 0
    out = sys.stdout if args.output is None else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    where = STDOUT if args.output is None else str(args.output)
    try:
        for number, record in _numbered_jsonl(args.input):
            if isinstance(record, BadLine):
                failed += 1
                print(f"错误 / error: {args.input} 第 {number} 行：{record}", file=sys.stderr)
                continue
            try:
                answer = service.ask("cli", "", record["question"], record.get("history") or [])
            except Exception as exc:  # one question failing must not lose the others
                failed += 1
                log.debug("第 %d 行回答失败", number, exc_info=True)
                print(f"错误 / error: {args.input} 第 {number} 行：回答失败（{type(exc).__name__}）", file=sys.stderr)
                continue
            try:
                out.write(json.dumps(batch_record(str(record.get("id", "")), answer), ensure_ascii=False) + "\n")
                out.flush()
            except OSError as exc:  # every later line would fail the same way: stop, saying why
                raise _write_failed(where, exc) from None
    finally:
        if out is not sys.stdout:
            _close(out)
    if failed:
        print(f"共 {failed} 行未能回答（见上）；其余各行已写出", file=sys.stderr)
    return 1 if failed else 0


def _close(out: TextIO) -> None:
    """Close an output file; a failure to close (its last bytes lost) is not reported as success."""
    try:
        out.close()
    except OSError as exc:
        raise _write_failed(str(out.name), exc) from None


def _print(text: str) -> None:
    """Print to standard output, a failed write (`> /dev/full`, a closed pipe) being a PolicyQAError."""
    try:
        print(text, flush=True)
    except OSError as exc:
        raise _write_failed(STDOUT, exc) from None


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.evaluation.metrics import score

    _output_path(args.output)
    gold = _read_jsonl(args.gold)
    answers = list(run_batch(gold, _settings(args)))
    if args.output:
        Path(args.output).write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers),
                                     encoding="utf-8")
    _print(json.dumps(score(gold, answers), ensure_ascii=False))
    return 0


def _clip(text: str, width: int) -> str:
    """Return text on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_feedback(args: argparse.Namespace) -> int:
    from contextlib import closing

    from pydantic import SecretStr

    from qa.stores.errors import FeedbackError
    from qa.stores.factory import open_feedback, where

    settings = load_settings(feedback_db=args.db)
    if args.db is not None:  # --db names a SQLite file, even where QA_DATABASE_URL keeps the served feedback
        settings = settings.model_copy(update={"database_url": SecretStr("")})
    db = where(settings, settings.feedback_db)
    # Reading commands must not leave an empty database behind at a mistyped path.
    if not settings.database_url.get_secret_value() and not settings.feedback_db.is_file():
        raise FeedbackError(f"找不到反馈数据库 {db}；请用 --db 指定已有的反馈文件，或设置 QA_FEEDBACK_DB")
    with closing(open_feedback(settings)) as store:
        if args.action == "export":
            if args.output is None:
                try:
                    store.export(args.format, sys.stdout)
                    sys.stdout.flush()
                except OSError as exc:
                    raise _write_failed(STDOUT, exc) from None
                return 0
            _output_path(args.output)
            try:
                # newline="": the csv module writes its own line endings.
                with open(args.output, "w", encoding="utf-8", newline="") as out:
                    n = store.export(args.format, out)
            except OSError as exc:
                raise _write_failed(str(args.output), exc) from None
            print(f"已导出 {n} 条反馈到 {args.output}", file=sys.stderr)
            return 0
        rows = store.all(limit=args.limit)
    if not rows:
        print(f"（{db} 中还没有反馈）")
        return 0
    print("时间(UTC)            评价  问题 | 意见")
    for r in rows:
        when = r.created_at[:19].replace("T", " ")
        print(f"{when}  {r.rating:<4}  {_clip(r.question, 30)} | {_clip(r.comment, 40) or '-'}")
    return 0


def cmd_measures(args: argparse.Namespace) -> int:
    from qa.service import Service

    for field in ("type", "industry", "beneficiary"):
        Service.check_filter(field, getattr(args, field))  # before opening (or building) the index
    # Look-ups only: listing measures needs no vectors and no assistant; the embedder is loaded only to build.
    service = Service.open(_settings(args), answers=False)
    rows = service.measures(args.region, args.type, args.industry, args.beneficiary)
    if args.json:
        print(json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=1))
        return 0
    group = None
    for r in rows:
        heading = f"{r.region}的措施，同样适用于{r.applies_to}" if r.applies_to else f"{r.region}的措施"
        if heading != group:
            count = sum(1 for x in rows if (x.region, x.applies_to) == (r.region, r.applies_to))
            print(f"\n== {heading}（{count} 项）==")
            group = heading
        print(f"[{'、'.join(r.types)}] {r.title}：{r.summary}")
        lead = "、".join(r.lead_agencies)
        print(f"    {r.citation.source}" + (f"  牵头单位：{lead}" if lead else ""))
    print(f"共 {len(rows)} 项措施")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    # The page is the program app.py (a module beside this package once installed), not part of the library:
    # this process becomes it, with the same options, instead of importing it.
    load_settings(host=args.host, port=args.port, index_dir=args.index)  # a bad setting fails here, in this CLI
    options = [f"--{name}={value}" for name, value in (("host", args.host), ("port", args.port),
                                                        ("index", args.index)) if value is not None]
    os.execv(sys.executable, [sys.executable, "-m", "app", *options])


def parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    p = argparse.ArgumentParser(prog="policy-qa", description="政策文件问答：带条款引用的回答")
    p.add_argument("--version", action="version", version=f"policy-qa {version('policy-qa')} ({Path(__file__).parent})")
    p.add_argument("-v", "--verbose", action="store_true", help="show debug logs")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build or update the index of a corpus folder")
    b.add_argument("--corpus", type=Path)
    b.add_argument("--index", type=Path)
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_build)
    a = sub.add_parser("ask", help="answer one question")
    a.add_argument("question")
    a.add_argument("--history", action="append", help="an earlier question (repeatable, oldest first)")
    a.add_argument("--json", action="store_true")
    a.add_argument("--index", type=Path)
    a.set_defaults(func=cmd_ask)
    bt = sub.add_parser("batch", help="answer a JSONL file of questions")
    bt.add_argument("input", type=Path)
    bt.add_argument("--index", type=Path)
    bt.add_argument("-o", "--output", type=Path)
    bt.set_defaults(func=cmd_batch)
    m = sub.add_parser("measures", help="list support measures by region, type, industry, beneficiary")
    m.add_argument("--region", help="e.g. 深圳 or 江苏省")
    m.add_argument("--type", help="e.g. 资金/补贴, 税收, 人才, 用地/用房 (an unknown one lists the valid ones)")
    m.add_argument("--industry", help="e.g. 动漫, 游戏, 影视, 出版, 文旅")
    m.add_argument("--beneficiary", help="e.g. 中小企业, 高新技术企业")
    m.add_argument("--json", action="store_true")
    m.add_argument("--index", type=Path)
    m.set_defaults(func=cmd_measures)
    s = sub.add_parser("serve", help="serve the chat UI, HTTP API, OpenAI endpoint and WeChat callbacks")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--index", type=Path)
    s.set_defaults(func=cmd_serve)
    e = sub.add_parser("eval", help="answer a gold JSONL file and print the metrics")
    e.add_argument("gold", type=Path)
    e.add_argument("--index", type=Path)
    e.add_argument("-o", "--output", type=Path, help="also write the answers here")
    e.set_defaults(func=cmd_eval)
    f = sub.add_parser("feedback", help="list or export the stored answer feedback")
    f_sub = f.add_subparsers(dest="action", required=True)
    fe = f_sub.add_parser("export", help="write every feedback row as JSONL or CSV")
    fe.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    fe.add_argument("-o", "--output", type=Path, help="output file (default: stdout)")
    fe.add_argument("--db", type=Path, help="feedback database (default: settings.feedback_db)")
    fe.set_defaults(func=cmd_feedback)
    fl = f_sub.add_parser("list", help="print the newest feedback as a short table")
    fl.add_argument("--limit", type=int, default=20, help="rows to show (default: 20)")
    fl.add_argument("--db", type=Path, help="feedback database (default: settings.feedback_db)")
    fl.set_defaults(func=cmd_feedback)
    return p


def _check_text_arguments(args: argparse.Namespace) -> None:
    """Raise PolicyQAError naming an argument that is not UTF-8 text.

    Python keeps undecodable argv bytes as lone surrogates (surrogateescape), which fail later wherever the
    text is encoded (opencc, JSON, SQLite) with a traceback. Paths are left alone: they round-trip to the disk."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            raw = os.fsencode(text)
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = f"第 {exc.start + 1} 个字节 0x{raw[exc.start]:02x}"
                raise PolicyQAError(f"参数 {name} 不是有效的 UTF-8 文本（{byte}）；"
                                    "请检查终端编码（LANG / LC_ALL 应为 UTF-8，如 zh_CN.UTF-8）") from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors the user can fix are printed in Chinese and English, not as tracebacks."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    for noisy in ("httpx", "chromadb", "bm25s", "jieba", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from qa.service.redact import install

    install()  # -v logs requests' URLs and exceptions: no secret may reach the terminal or a log file
    try:
        _check_text_arguments(args)
        code = int(args.func(args))
        try:
            # Here, not at exit: a failed flush at exit is "Exception ignored" on stderr and exit status 120.
            sys.stdout.flush()
        except OSError as exc:
            raise _write_failed(STDOUT, exc) from None
        return code
    except PolicyQAError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"错误 / error: 找不到文件 {exc.filename}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path that cannot be read or written (permissions, a folder, a full disk)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"错误 / error: 无法读写{where}（{exc.strerror or type(exc).__name__}）", file=sys.stderr)
        return 2
