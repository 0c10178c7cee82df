"""OFD files written by hand per GB/T 33190 (OFD.xml -> Document.xml -> pages of TextObjects), so the tests need no
fixture of unknown licence."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape, quoteattr

NS = "http://www.ofdspec.org/2016"
A4 = (210.0, 297.0)  # OFD measures in millimetres


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def make_ofd(pages: list[list[str]], title: str = "", header: str = "", reverse: bool = False) -> bytes:
    """Return an OFD: one page per list of lines, each line a TextObject with per-character DeltaX, a running
    header in a page template and "— n —" at the foot; `reverse` writes each page's objects bottom-up, so only a
    reader that orders by position gets the text right."""
    ids = iter(range(11, 100_000))
    size, pitch, left, top = 5.6, 10.2, 28.0, 37.0

    def text_object(text: str, x: float, baseline: float, font: float) -> str:
        deltas = f' DeltaX={quoteattr(f"g {len(text) - 1} {font:g}")}' if len(text) > 1 else ""
        return (f'<ofd:TextObject ID="{next(ids)}" Boundary="{x:g} {baseline - font:g} {font * len(text):g} '
                f'{font * 1.2:g}" Font="2" Size="{font:g}"><ofd:FillColor Value="0 0 0"/>'
                f'<ofd:TextCode X="0" Y="{font:g}"{deltas}>{escape(text)}</ofd:TextCode></ofd:TextObject>')

    files = {"OFD.xml": _xml(
        f'<ofd:OFD xmlns:ofd="{NS}" DocType="OFD" Version="1.0"><ofd:DocBody><ofd:DocInfo>'
        f"<ofd:DocID>0f1e2d3c4b5a69788796a5b4c3d2e1f0</ofd:DocID><ofd:Title>{escape(title)}</ofd:Title>"
        "<ofd:CreationDate>2024-01-05</ofd:CreationDate></ofd:DocInfo>"
        "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>")}
    if header:
        files["Doc_0/Tpls/Tpl_0/Content.xml"] = _xml(
            f'<ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="{next(ids)}">'
            f"{text_object(header, left, 22.0, 4.2)}</ofd:Layer></ofd:Content></ofd:Page>")
    entries = []
    for n, lines in enumerate(pages):
        objects, y = [], top
        for line in lines:
            indent = 2 * size if line.startswith("\u3000\u3000") else 0.0
            objects.append(text_object(line.lstrip("\u3000"), left + indent, y + size, size))
            y += pitch
        objects.append(text_object(f"— {n + 1} —", A4[0] / 2 - 8, 280.0, 4.0))
        if reverse:
            objects.reverse()
        template = '<ofd:Template TemplateID="1" ZOrder="Background"/>' if header else ""
        files[f"Doc_0/Pages/Page_{n}/Content.xml"] = _xml(
            f'<ofd:Page xmlns:ofd="{NS}">{template}<ofd:Content><ofd:Layer ID="{next(ids)}">{"".join(objects)}'
            "</ofd:Layer></ofd:Content></ofd:Page>")
        entries.append(f'<ofd:Page ID="{next(ids)}" BaseLoc="Pages/Page_{n}/Content.xml"/>')
    files["Doc_0/PublicRes.xml"] = _xml(f'<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:Fonts>'
                                        '<ofd:Font ID="2" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>')
    template_decl = '<ofd:TemplatePage ID="1" BaseLoc="Tpls/Tpl_0/Content.xml"/>' if header else ""
    files["Doc_0/Document.xml"] = _xml(
        f'<ofd:Document xmlns:ofd="{NS}"><ofd:CommonData><ofd:MaxUnitID>{next(ids)}</ofd:MaxUnitID>'
        f"<ofd:PageArea><ofd:PhysicalBox>0 0 {A4[0]:g} {A4[1]:g}</ofd:PhysicalBox></ofd:PageArea>"
        f"<ofd:PublicRes>PublicRes.xml</ofd:PublicRes>{template_decl}</ofd:CommonData>"
        f'<ofd:Pages>{"".join(entries)}</ofd:Pages></ofd:Document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def page_bomb(bodies: int, pages_each: int, lines: list[str]) -> bytes:
    """Return an OFD whose OFD.xml lists `bodies` DocBody entries, all naming one Document.xml that lists its one
    page `pages_each` times: a few KB that reference bodies x pages_each pages."""
    source = zipfile.ZipFile(io.BytesIO(make_ofd([lines])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename).decode("utf-8")
            if info.filename == "OFD.xml":
                start, end = data.index("<ofd:DocBody>"), data.index("</ofd:DocBody>") + len("</ofd:DocBody>")
                data = data[:start] + data[start:end] * bodies + data[end:]
            elif info.filename == "Doc_0/Document.xml":
                start, end = data.index("<ofd:Page "), data.index("</ofd:Pages>")
                data = data[:start] + data[start:end] * pages_each + data[end:]
            archive.writestr(info.filename, data)
    return buf.getvalue()
