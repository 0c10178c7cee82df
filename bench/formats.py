"""Reading the formats governments publish: OCR pages/s and accuracy on rendered scans (with the cached rerun),
.doc conversion by LibreOffice, OFD, and ruled-table PDF pages."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.report import ROOT, append
from index.loading import load_file
from index.readers import legacy
from index.readers.base import ReadContext
from index.readers.ocr import OcrCache
from tests.scans import Scan, char_accuracy, scanned_pdf

CORPUS = ROOT / "data" / "policies" / "guangdong-culture-tech-2021-2025.txt"
CASES = {
    "clean (200 dpi, no blur)": Scan(blur=0, rotate=0, noise=0, jpeg_quality=0),
    "scan (blur 1.2, 1.5°, noise, JPEG q60, red seal)": Scan(),
    "bad (blur 2, 3°, JPEG q35, greyscale)": Scan(blur=2.0, rotate=3.0, jpeg_quality=35, grayscale=True),
}
MAX = 50_000_000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ocr_rows(pages: int) -> list[str]:
    """Return one table row per scan case: pages, pages/s, CPU s/page, accuracy, low-confidence pages, rerun."""
    paragraphs = [p.strip() for p in CORPUS.read_text(encoding="utf-8").split("\n") if p.strip()][2:]
    rows = []
    for name, scan in CASES.items():
        chars = scan.chars_per_line * (scan.lines_per_page - 2) * pages
        picked, total = [], 0
        for p in paragraphs:
            if total + len(p) > chars * 0.9:
                break
            picked.append(p)
            total += len(p) + 2
        data, truth = scanned_pdf(picked, scan, title="广东省促进文化和科技深度融合实施方案",
                                  signature=("广东省科学技术厅",), seal="广东省科学技术厅")
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "scan.pdf").write_bytes(data)
            with OcrCache(Path(tmp) / "ocr.sqlite") as cache:
                context = ReadContext(ocr_cache=cache)
                wall, cpu = time.perf_counter(), _cpu()
                source = load_file(Path(tmp) / "scan.pdf", MAX, context)
                wall, cpu = time.perf_counter() - wall, _cpu() - cpu
                rerun = time.perf_counter()
                load_file(Path(tmp) / "scan.pdf", MAX, context)
                rerun = time.perf_counter() - rerun
        n = len(source.ocr_pages)
        accuracy = char_accuracy(source.text, "\n".join(truth))
        rows.append(f"| {name} | {n} | {n / wall:.2f} | {cpu / n:.1f} | {accuracy:.2%} | "
                    f"{len(source.low_confidence)} | {rerun:.2f} s |")
    return rows


def _median_seconds(run: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _other_rows() -> list[str]:
    """Return rows for a .doc through LibreOffice, an OFD, and a PDF page with a ruled table."""
    from tests.index.test_formats import _docx_with_table
    from tests.index.test_tables import _ruled_pdf
    from tests.ofds import make_ofd
    from tests.scans import layout

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = layout([p for p in CORPUS.read_text(encoding="utf-8").split("\n") if p.strip()], Scan())
        pages = [lines[i:i + 22] for i in range(0, len(lines), 22)]
        (folder / "plan.ofd").write_bytes(make_ofd(pages, title="实施方案"))
        seconds = _median_seconds(lambda: load_file(folder / "plan.ofd", MAX))
        rows.append(f"| OFD, {len(pages)} pages (written by tests/ofds.py) | {seconds * 1000:.0f} ms |")
        (folder / "table.pdf").write_bytes(_ruled_pdf())
        seconds = _median_seconds(lambda: load_file(folder / "table.pdf", MAX))
        rows.append(f"| PDF page with a ruled table (pypdf + pdfplumber) | {seconds * 1000:.0f} ms |")
        if legacy.soffice():
            (folder / "in.docx").write_bytes(_docx_with_table())
            (folder / "plan.doc").write_bytes(_make_doc(folder / "in.docx"))
            seconds = _median_seconds(lambda: load_file(folder / "plan.doc", MAX))
            rows.append(f"| .doc through LibreOffice headless (fresh profile each time) | {seconds:.2f} s |")
    return rows


def _make_doc(docx_path: Path) -> bytes:
    import subprocess

    program = legacy.soffice()
    assert program
    out = docx_path.parent
    subprocess.run([program, f"-env:UserInstallation={(out / 'profile').as_uri()}", "--headless", "--convert-to",
                    "doc:MS Word 97", "--outdir", str(out), str(docx_path)], check=True, capture_output=True,
                   timeout=180, env={**os.environ, "HOME": str(out)})
    return (out / "in.doc").read_bytes()


def main() -> None:
    """Run the format benchmarks and append their tables to docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=3, help="scanned pages per case")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    ocr = ["| case | pages | pages/s (wall) | CPU s/page | char accuracy | low-confidence pages | cached rerun |",
           "|---|---|---|---|---|---|---|", *_ocr_rows(args.pages)]
    other = ["| file | time (median of 3) |", "|---|---|", *_other_rows()]
    note = ("\n\nScanned pages are rendered by `tests/scans.py` (Noto Serif CJK, GB/T 9704-like A4, red seal over "
            "the signature, running header, page numbers), OCR at 200 dpi with rapidocr's bundled PP-OCR models on "
            f"onnxruntime ({os.cpu_count()} cores). Accuracy is 1 - edit distance / characters of the printed text "
            "(whitespace aside). The cached rerun reads the same file again with the OCR cache of the index folder. "
            f"Load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after the OCR runs: with other work "
            "on the cores, wall pages/s drops; CPU s/page is the steadier figure.")
    append("Formats: OCR of scanned PDFs, OFD, .doc, PDF tables", "\n".join(ocr) + "\n\n" + "\n".join(other) + note)


if __name__ == "__main__":
    main()
