"""Admin HTTP actions that change what the assistant knows: upload, delete, rebuild. Token-protected."""

from __future__ import annotations

import os
import re
import threading
import unicodedata
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, UploadFile

from qa.service import Service
from qa.service.redact import redact
from qa.settings import Settings
from qa.surfaces.http.middleware import ADMIN_TOKEN_NEEDED, bearer_guard

SAFE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,120}$")
# Characters Windows reserves in file names: "c:x.txt" names a drive or an alternate data stream there, and a
# corpus folder may be copied to, or shared with, a Windows machine.
WINDOWS_RESERVED = set('<>:"|?*')
# Unicode categories that show nothing or change how the text around them shows (bidi overrides, zero widths).
INVISIBLE = ("Cf", "Cc", "Zl", "Zp")


def name_problem(name: str) -> str | None:
    """Return why a document name would mislead an admin or break on another system, or None when it is fine.

    Shown to admins as-is, a name with U+202E (right-to-left override) reads "通知txt.pdf" for "通知\u202efdp.txt";
    a name of spaces shows as nothing at all."""
    for char in name:
        if unicodedata.category(char) in INVISIBLE:
            return (f"含不可见的控制字符 U+{ord(char):04X}（{unicodedata.name(char, '控制字符')}），"
                    "会让文件名显示成另一个样子；请去掉后重新上传")
        if char in WINDOWS_RESERVED:
            return f"含字符 {char!r}（Windows 不允许，“c:x.txt”表示盘符或数据流）；请改名后重新上传"
    stem = os.path.splitext(name)[0]
    if not stem.strip() or name != name.strip():
        return "不能为空白，也不能以空格开头或结尾；请给文件起一个看得出内容的名字"
    return None


def _visible(name: str) -> str:
    """Return the name with each invisible character written as <U+XXXX>: the message itself must not carry an
    override character to the admin's screen."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in INVISIBLE else c for c in name)


def admin_router(settings: Settings, service: Service) -> APIRouter:
    """Return the /admin routes; each needs `Authorization: Bearer <QA_ADMIN_TOKEN>`."""
    corpus = settings.corpus_dir
    last: dict[str, Any] = {"status": "idle"}
    starting = threading.Lock()
    authorised = bearer_guard(settings.admin_token.get_secret_value(), ADMIN_TOKEN_NEEDED)
    router = APIRouter(prefix="/admin", dependencies=[Depends(authorised)], tags=["admin"])

    def target(name: str) -> Path:
        """Return the path a document name maps to inside the corpus, refusing anything that escapes it."""
        clean = os.path.basename(name)
        if clean != name or not SAFE_NAME.match(name) or name.startswith(".") or ".." in name:
            raise HTTPException(400, f"文件名 {name!r} 无效：只能是不含路径的普通文件名")
        if problem := name_problem(name):
            raise HTTPException(400, f"文件名 “{_visible(name)}” 无效：{problem}")
        if Path(name).suffix.lower() not in service.formats:
            raise HTTPException(400, f"不支持的文件类型 {Path(name).suffix}；支持：{', '.join(service.formats)}")
        return corpus / name

    @router.get("/documents")
    def documents() -> dict[str, Any]:
        """List the corpus files and what the last build skipped."""
        manifest = service.manifest()
        files = [{"name": name, "bytes": size} for name, size in service.corpus_files()]
        return {"files": files, "skipped": [list(s) for s in manifest.skipped] if manifest else [],
                "built_at": manifest.built_at if manifest else None}

    @router.post("/documents", status_code=201)
    async def upload(file: UploadFile, rebuild: bool = False) -> dict[str, Any]:
        """Add or replace a document (written atomically), optionally rebuilding the index."""
        path = target(file.filename or "")
        data = await file.read(settings.max_document_bytes + 1)
        if len(data) > settings.max_document_bytes:
            raise HTTPException(413, f"文件超过上限 {settings.max_document_bytes} 字节（QA_MAX_DOCUMENT_BYTES）")
        if not data.strip():
            raise HTTPException(400, "文件为空")
        corpus.mkdir(parents=True, exist_ok=True)
        tmp = corpus / f".upload-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        os.replace(tmp, path)
        started = start_rebuild() if rebuild else False
        return {"saved": path.name, "bytes": len(data), "rebuild_started": started}

    @router.delete("/documents/{name}")
    def delete(name: str, rebuild: bool = False) -> dict[str, Any]:
        """Remove a document, optionally rebuilding the index (until then the old index keeps serving)."""
        path = target(name)
        if not path.exists():
            raise HTTPException(404, f"没有文件 {name}")
        path.unlink()
        return {"deleted": name, "rebuild_started": start_rebuild() if rebuild else False}

    def start_rebuild() -> bool:
        # Checked and marked at once: two requests close together must not both start a build.
        with starting:
            if service.rebuilding or last["status"] == "running":
                return False
            last.update(status="running", summary="")

        def run() -> None:
            try:
                report = service.rebuild()
                last.update(status="done", summary=report.summary(), skipped=report.skipped)
            except Exception as exc:  # reported to the admin; the previous index keeps serving
                last.update(status="failed", summary=f"重建失败：{redact(str(exc))}")

        threading.Thread(target=run, name="admin-rebuild", daemon=True).start()
        return True

    @router.post("/rebuild", status_code=202)
    def rebuild() -> dict[str, Any]:
        """Start rebuilding the index in the background; answers keep coming from the current index."""
        if not start_rebuild():
            raise HTTPException(409, "已有重建任务在进行中，请稍后再试")
        return {"status": "started"}

    @router.get("/rebuild")
    def rebuild_status() -> dict[str, Any]:
        """Return the state of the last rebuild: idle, running, done (with its summary) or failed."""
        return {**last, "running": service.rebuilding}

    return router
