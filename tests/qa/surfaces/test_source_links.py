"""Source links: the address a document was published at (sidecar `url`, or a saved page's own address) shown as
查看原文 in citations and the clause viewer, and the indexed original downloadable from the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from index.build import build_index
from index.errors import DocumentError
from index.loading import load_file
from qa.records import Answer, Citation, Paragraph, Quote
from qa.render.markdown import answer_markdown, clause_panel_html
from qa.settings import Settings
from qa.surfaces.http.app import create_app
from tests.conftest import ready_service, serve_http

MAX = 10_000_000
TOKEN = "test-file-token"
ARTICLE = "<p>第一条 为繁荣影视创作，对在省级卫视首播的优秀电视剧给予奖励，每分钟奖励1500元，单部最高150万元。</p>"
BODY = f"<body><article><h1>广东省影视精品扶持办法</h1>{ARTICLE}</article></body></html>"
URL = "https://www.gd.gov.cn/zwgk/wjk/qbwj/post_4321.html"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (f'<link rel="canonical" href="{URL}"><meta property="og:url" content="https://www.gd.gov.cn/">', URL),
        ('<link rel="canonical" href="/zwgk/wjk/qbwj/post_4321.html"><meta name="Url" content="' + URL + '">', URL),
        (f'<meta name="url" content="{URL}">', URL),
        (f"<!-- saved from url=(0049){URL} -->", URL),
        (f"<!--\n Page saved with SingleFile \n url: {URL} \n saved date: Fri Jan 05 2024\n-->", URL),
        ('<link rel="canonical" href="javascript:alert(1)">', None),
        ("", None),
    ],
    ids=["canonical-over-site-og", "relative-canonical-meta-url", "meta-url", "saved-from", "singlefile",
         "script-url", "none"],
)
def test_saved_page_keeps_its_address(tmp_path: Path, head: str, expected: str | None) -> None:
    """A saved page's original address comes from canonical, og:url, the CMS's meta Url or the saving tool's note."""
    page = f"<!DOCTYPE html>\n{head if head.startswith('<!--') else ''}<html><head><meta charset='utf-8'>" + (
        "" if head.startswith("<!--") else head) + f"<title>办法</title></head>{BODY}"
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    assert load_file(tmp_path / "page.html", MAX).meta.get("url") == expected


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/local/file.pdf", 42])
def test_sidecar_url_must_be_a_web_address(tmp_path: Path, url: object) -> None:
    """A sidecar `url` that is not an http(s) address is an error naming the field."""
    (tmp_path / "plan.txt").write_text("一、总则\n（一）加强组织领导。", encoding="utf-8")
    (tmp_path / "plan.meta.json").write_text(json.dumps({"url": url}), encoding="utf-8")
    with pytest.raises(DocumentError, match="url 应为 http"):
        load_file(tmp_path / "plan.txt", MAX)


def test_links_are_shown_and_only_web_addresses_become_links() -> None:
    """An answer and the clause panel link 查看原文 to an http(s) address only; the download link is escaped."""
    from index.records import Clause, PolicyDoc

    def answer(url: str) -> Answer:
        cite = Citation("d", "办法", "c", "第一条", "正文", "正文", url=url)
        return Answer("问", "问", (Paragraph("根据已收录的政策文件："), Quote("正文", 1)), citations=(cite,))

    assert f'<a href="{URL}" target="_blank" rel="noopener noreferrer">查看原文</a>' in answer_markdown(answer(URL))
    assert "查看原文" not in answer_markdown(answer("javascript:alert(1)"))
    clause = Clause("c", "d", "第一条", ("第一条",), "第一条", "正文", "", 0, 2, 1)
    doc = PolicyDoc("d", "办法", "正文", "s", "h", url=URL)
    panel = clause_panel_html(clause, doc, file_url='/api/documents/a"b/file')
    assert f'href="{URL}"' in panel and 'href="/api/documents/a&quot;b/file" download>下载原文件' in panel
    assert "查看原文" not in clause_panel_html(clause, PolicyDoc("d", "办法", "正文", "s", "h", url="javascript:x"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve (with an API token) an index of a saved page, a text with a sidecar url, and a file in a subfolder."""
    folder = tmp_path_factory.mktemp("links")
    corpus = folder / "corpus"
    (corpus / "sub").mkdir(parents=True)
    page = f"<!DOCTYPE html>\n<!-- saved from url=(0049){URL} -->\n<html><head><meta charset='utf-8'>" \
           f"<title>广东省影视精品扶持办法</title></head>{BODY}"
    (corpus / "film.html").write_text(page, encoding="utf-8")
    (corpus / "sub" / "plan.txt").write_text("一、总体要求\n（一）加强组织领导，建立文化科技融合工作机制。",
                                             encoding="utf-8")
    (corpus / "sub" / "plan.meta.json").write_text(json.dumps({"url": "http://kjt.example.gov.cn/a.html"}),
                                                   encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=folder / "index", embedding_backend="none", api_token=TOKEN)
    build_index(settings.build_config, None, progress=False)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        yield url, corpus


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.server
def test_citation_carries_the_address(served: tuple[str, Path]) -> None:
    """An answer's citation gives the document's original address, and the document list has it too."""
    base, _ = served
    body = httpx.post(f"{base}/api/ask", json={"question": "省级卫视首播的电视剧每分钟奖励多少？"}, headers=AUTH,
                      timeout=30).json()
    assert body["citations"] and body["citations"][0]["url"] == URL
    docs = {d["doc_id"]: d for d in httpx.get(f"{base}/api/documents", headers=AUTH, timeout=30).json()}
    assert docs["film"]["url"] == URL and docs["sub/plan"]["url"] == "http://kjt.example.gov.cn/a.html"


@pytest.mark.server
def test_original_file_downloads_behind_the_token(served: tuple[str, Path]) -> None:
    """GET /api/documents/{id}/file returns the indexed bytes as a download with the right type; a document id
    with a folder works; without the token it is refused."""
    base, corpus = served
    r = httpx.get(f"{base}/api/documents/sub/plan/file", headers=AUTH, timeout=30)
    assert r.status_code == 200 and r.content == (corpus / "sub" / "plan.txt").read_bytes()
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''plan.txt"
    page = httpx.get(f"{base}/api/documents/film/file", headers=AUTH, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # A saved page is never rendered on our origin: a download, sandboxed, no sniffing.
    assert page.headers["content-security-policy"] == "sandbox" and page.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{base}/api/documents/film/file", timeout=30).status_code == 401


@pytest.mark.server
@pytest.mark.parametrize("doc_id", ["nope", "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "sub/plan.txt",
                                    "%2Fetc%2Fpasswd"])
def test_only_indexed_documents_are_served(served: tuple[str, Path], doc_id: str) -> None:
    """Anything but a document id of the index is 404: a path from the client is never opened."""
    base, _ = served
    r = httpx.get(f"{base}/api/documents/{doc_id}/file", headers=AUTH, timeout=30)
    assert r.status_code == 404 and "root:" not in r.text


@pytest.mark.server
def test_changed_file_is_not_served_as_the_indexed_one(served: tuple[str, Path]) -> None:
    """A file changed after indexing is refused (410) until the index is rebuilt: the citation would not match."""
    base, corpus = served
    path = corpus / "sub" / "plan.txt"
    original = path.read_bytes()
    path.write_text("一、总体要求\n（一）已修改。", encoding="utf-8")
    try:
        r = httpx.get(f"{base}/api/documents/sub/plan/file", headers=AUTH, timeout=30)
        assert r.status_code == 410 and "重新建立索引" in r.json()["detail"]
    finally:
        path.write_bytes(original)
