"""Read files into Documents: .txt/.md/.csv (UTF-8, UTF-16, GB18030/GBK, Big5), .docx, .pdf (OCR for pages
without a text layer), images (OCR), .xlsx, .html.

Tables of every format come out as tab-separated rows under a one-line header (the chunker turns them into
`列名：值` rows); headings as markdown `#` lines. A file that cannot be used raises LoaderError with the reason;
`load_paths` collects those as Skipped entries so one bad file never stops a run. OCR is slow, so what it read
is cached by the file's content hash (`ocr_cache`).
"""
from __future__ import annotations

import codecs
import os
import re
import unicodedata
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .config import Settings
from .errors import LoaderError
from .models import Document, Skipped

# (done, total, what): what is "ocr" (a page read by OCR), "documents" (files read), "chunks" (passages cut) or
# "embedding" (passages embedded), as build_index reports them
Progress = Callable[[int, int, str], None]

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
SHEET_SUFFIXES = {".xlsx", ".csv"}
HTML_SUFFIXES = {".html", ".htm"}
ENCODINGS = ("utf_8", "gb18030", "big5", "utf_16")  # what Chinese text files come in
MAX_CHAOS = 0.1  # charset-normalizer's mess ratio above which a decoding is not trusted
SUFFIXES = TEXT_SUFFIXES | IMAGE_SUFFIXES | SHEET_SUFFIXES | HTML_SUFFIXES | {".docx", ".pdf"}
USABLE_PAGE_CHARS = 10  # a PDF page with fewer readable characters than this is read by OCR


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 or UTF-16 by their BOM, else UTF-8, else the encoding charset-normalizer finds
    among the ones Chinese files come in (GB18030/GBK, Big5, UTF-16). Refuses, with the reason, a file whose
    encoding cannot be told with confidence: it is never indexed as mojibake."""
    if not data.strip():
        raise LoaderError("the file is empty")
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                break
            if _looks_like_text(text):
                return text
            break
    if b"\x00" in data[:4096] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise LoaderError("the file looks binary (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
        if _looks_like_text(text):
            return text
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=list(ENCODINGS)).best()
    if best is not None and best.chaos <= MAX_CHAOS and _looks_like_text(str(best)):
        return str(best)
    raise LoaderError("the text encoding could not be told with confidence (UTF-8, UTF-16, GB18030/GBK or Big5 "
                      "expected); save it as UTF-8 and retry")


def _looks_like_text(text: str) -> bool:
    sample = text[:4000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\n\r\t\f") or ch == "\ufffd")
    return bad <= len(sample) * 0.01


def load_file(path: str | os.PathLike, source: str | None = None, max_mb: float = Settings.max_file_mb,
              ocr_cache: str | os.PathLike | None = None, progress: Progress | None = None) -> Document:
    """Load one file. Raises LoaderError saying why it cannot be used. `ocr_cache`: a folder where what OCR
    read is kept by the file's content hash, so an unchanged file is never OCR'd twice; `progress` hears
    (page, pages, "ocr") as pages are read by OCR."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise LoaderError(f"unsupported file type '{suffix or p.name}' (use {', '.join(sorted(SUFFIXES))})")
    size = p.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise LoaderError(f"the file is {size / 1e6:.0f} MB, over the {max_mb} MB limit; split it, or raise RAG_MAX_FILE_MB")
    if suffix in IMAGE_SUFFIXES or suffix == ".pdf":
        doc = _cached_ocr(p, suffix, ocr_cache, progress)
    else:
        doc = Document("", _read_other(p, suffix))
    doc.text = doc.text.replace("\r\n", "\n").replace("\r", "\n")
    if not doc.text.strip():
        raise LoaderError("no text could be extracted from the file" +
                          (" (OCR found none in the image)" if suffix in IMAGE_SUFFIXES else ""))
    doc.source, doc.path = source or p.name, str(p)
    return doc


def _read_other(p: Path, suffix: str) -> str:
    if suffix in TEXT_SUFFIXES:
        return decode_text(p.read_bytes())
    if suffix == ".docx":
        return _read_docx(p)
    if suffix == ".xlsx":
        return _read_xlsx(p)
    if suffix == ".csv":
        return _read_csv(p)
    return _read_html(p)


def _cached_ocr(p: Path, suffix: str, cache: str | os.PathLike | None, progress: Progress | None) -> Document:
    """A PDF or an image read (with OCR where needed), from the cache when this content was read before."""
    import hashlib
    import json

    data = p.read_bytes()
    key = Path(cache) / f"{hashlib.sha256(data).hexdigest()}.json" if cache else None
    if key is not None and key.exists():
        d = json.loads(key.read_text("utf-8"))
        return Document("", d["text"], pages=d["pages"], stats=d["stats"])
    doc = _read_image(p) if suffix in IMAGE_SUFFIXES else _read_pdf(p, progress)
    if key is not None and doc.stats.get("ocr_pages"):  # only OCR is worth keeping
        key.parent.mkdir(parents=True, exist_ok=True)
        tmp = key.with_suffix(".tmp")
        tmp.write_text(json.dumps({"text": doc.text, "pages": doc.pages, "stats": doc.stats}, ensure_ascii=False), "utf-8")
        os.replace(tmp, key)
    return doc


def _read_docx(p: Path) -> str:
    try:
        import docx  # python-docx
        from docx.oxml.ns import qn

        d = docx.Document(str(p))
    except Exception as exc:  # python-docx raises several unrelated types for corrupt files
        raise LoaderError(f"the .docx file is corrupt or unreadable ({type(exc).__name__})") from exc
    out: list[str] = []
    # Walk the body in order so tables stay where they are in the document.
    for el in d.element.body.iterchildren():
        if el.tag == qn("w:p"):
            para = docx.text.paragraph.Paragraph(el, d)
            text = para.text.strip()
            if not text:
                continue
            style = (para.style.name or "") if para.style is not None else ""
            level = _heading_level(style)
            out.append(("#" * level + " " + text) if level else text)
        elif el.tag == qn("w:tbl"):
            table = docx.table.Table(el, d)
            for row in table.rows:
                cells = [c.text.strip().replace("\n", " ") for c in row.cells]
                out.append("\t".join(cells))
            out.append("")
    return "\n\n".join(out)


def _heading_level(style: str) -> int:
    style = style.lower()
    if style == "title":
        return 1
    if style.startswith("heading"):
        digits = "".join(ch for ch in style if ch.isdigit())
        return min(int(digits or 1) + 1, 6)
    return 0


def _read_pdf(p: Path, progress: Progress | None = None) -> Document:
    """A PDF's pages in order; a page whose text layer is empty or unreadable is rendered and read by OCR."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(p))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise LoaderError("the .pdf file is password-protected; save it without a password") from exc
            if not reader.decrypt(""):
                raise LoaderError("the .pdf file is password-protected; save it without a password")
        texts = [page.extract_text() or "" for page in reader.pages]
    except LoaderError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise LoaderError(f"the .pdf file is corrupt or unreadable ({type(exc).__name__})") from exc
    stats = {}
    for i, text in enumerate(texts):
        if not _usable_page(text):
            if progress:
                progress(i + 1, len(texts), "ocr")
            page = _ocr_pdf_page(p, i)
            texts[i] = page.text
            stats["ocr_pages"] = stats.get("ocr_pages", 0) + 1
            stats["ocr_lines"] = stats.get("ocr_lines", 0) + page.lines
            stats["ocr_low_confidence"] = stats.get("ocr_low_confidence", 0) + page.low_confidence
    # A blank line marks a page break; the repair step rejoins sentences cut by it.
    texts = [t.replace("\r\n", "\n").replace("\r", "\n") for t in texts]
    starts, at = [], 0
    for t in texts:
        starts.append(at)
        at += len(t) + 2
    return Document("", "\n\n".join(texts), pages=starts, stats=stats)


def _usable_page(text: str) -> bool:
    """A text layer worth using: enough characters, most of them CJK, letters, digits or punctuation."""
    chars = [ch for ch in text if not ch.isspace()]
    if len(chars) < USABLE_PAGE_CHARS:
        return False
    readable = sum(1 for ch in chars if ch.isalnum() or unicodedata.category(ch)[0] == "P")
    return readable / len(chars) >= 0.8


def _ocr_pdf_page(p: Path, index: int):
    """Render one PDF page (pdfium, 2x) and read it by OCR."""
    from .ocr import ocr_image

    try:
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(p))
        image = pdf[index].render(scale=2).to_pil()
        pdf.close()
    except Exception as exc:
        raise LoaderError(f"page {index + 1} of the .pdf has no text layer and could not be rendered for OCR "
                          f"({type(exc).__name__})") from exc
    return ocr_image(image)


def _read_image(p: Path) -> Document:
    from PIL import Image, UnidentifiedImageError

    from .ocr import ocr_image

    try:
        with Image.open(p) as img:
            img.load()
            page = ocr_image(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise LoaderError(f"the image is corrupt or unreadable ({type(exc).__name__})") from exc
    return Document("", page.text, stats={"ocr_pages": 1, "ocr_lines": page.lines,
                                           "ocr_low_confidence": page.low_confidence})


def table_lines(rows: list[list[str]]) -> list[str]:
    """A table as tab-separated lines: caption rows (one distinct value across the row) become `###` headings,
    the header rows on top (one or two, with no figure in them; a merged cell repeats its value) become one
    header line (2023年 over 实际 -> 2023年实际), the rest stay rows."""
    rows = [[c.strip() for c in r] for r in rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    keep = [j for j in range(width) if any(r[j] for r in rows)]
    rows = [[r[j] for j in keep] for r in rows]
    out: list[str] = []
    while rows and len({c for c in rows[0] if c}) == 1 and len(rows[0]) > 1:
        out.append("### " + next(c for c in rows[0] if c))
        rows = rows[1:]
    heads = []
    while rows and len(heads) < 2 and not any(_is_figure(c) for c in rows[0]) and len(rows) > 1:
        heads.append(rows[0])
        rows = rows[1:]
    if heads:
        names = [h for h in heads[0]]
        if len(heads) == 2:
            names = [a if a == b or not b else (b if not a else a + b) for a, b in zip(heads[0], heads[1])]
        out.append("\t".join(names))
    out += ["\t".join(r) for r in rows]
    return out + [""]


def _is_figure(cell: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.,]+%?", cell.replace(" ", ""))) and any(ch.isdigit() for ch in cell)


def _cell(value, number_format: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if "%" in number_format:
            return f"{value * 100:.10g}%"
        return str(int(value)) if value.is_integer() else f"{value:.10g}"
    return str(value).replace("\n", " ").strip()


def _read_xlsx(p: Path) -> str:
    """Each sheet a `##` section named after it; merged cells repeat their value over the range."""
    try:
        import openpyxl

        wb = openpyxl.load_workbook(str(p), data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise LoaderError(f"the .xlsx file is corrupt or unreadable ({type(exc).__name__})") from exc
    out = [f"# {p.stem}"]
    for ws in wb.worksheets:
        grid = [[_cell(c.value, c.number_format) for c in row] for row in ws.iter_rows()]
        for rng in ws.merged_cells.ranges:
            value = grid[rng.min_row - 1][rng.min_col - 1] if rng.min_row - 1 < len(grid) else ""
            for r in range(rng.min_row - 1, min(rng.max_row, len(grid))):
                for c in range(rng.min_col - 1, min(rng.max_col, len(grid[r]))):
                    grid[r][c] = value
        lines = table_lines(grid)
        if lines:
            out += ["", f"## {ws.title}", ""] + lines
    return "\n".join(out)


def _read_csv(p: Path) -> str:
    import csv
    import io

    text = decode_text(p.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return "\n".join([f"# {p.stem}", ""] + table_lines(list(csv.reader(io.StringIO(text), dialect))))


def _read_html(p: Path) -> str:
    """A saved web page's main content (trafilatura): navigation and footers dropped, h1-h6 as headings,
    tables as rows, the page's title as the title."""
    import trafilatura
    from lxml import etree

    raw = p.read_bytes()
    xml = None
    for precise in (True, False):  # precision keeps the structure; recall when precision finds little
        xml = trafilatura.extract(raw, output_format="xml", include_tables=True, with_metadata=True,
                                  favor_precision=precise, favor_recall=not precise)
        if xml:
            break
    if not xml:
        raise LoaderError("no main content found in the page (only navigation, scripts or nothing)")
    root = etree.fromstring(xml.encode("utf-8"))
    title = (root.get("title") or "").strip()
    out = [f"# {title}", ""] if title else []
    main = root.find("main")
    for el in (main if main is not None else root):
        text = " ".join("".join(el.itertext()).split())
        if el.tag == "head":
            level = int((el.get("rend") or "h2")[-1:] or 2) if (el.get("rend") or "")[-1:].isdigit() else 2
            if text and text != title:
                out += [f"{'#' * min(level + 1, 6)} {text}", ""]
        elif el.tag == "table":
            out += table_lines([[" ".join("".join(c.itertext()).split()) for c in row.findall("cell")]
                                for row in el.findall("row")])
        elif el.tag == "list":
            out += [" ".join("".join(item.itertext()).split()) for item in el.findall("item")] + [""]
        elif text:
            out += [text, ""]
    body = [line for line in out if line and not line.startswith("#")]
    if sum(len(line) for line in body) < USABLE_PAGE_CHARS:
        raise LoaderError("no main content found in the page (only navigation, scripts or nothing)")
    return "\n".join(out)


def iter_files(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str]]:
    """Yield (file, source name) for files and folders (recursively). Hidden files are ignored."""
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield f, rel.as_posix()
        else:
            yield root, root.name


def load_paths(paths: Iterable[str | os.PathLike], max_mb: float = Settings.max_file_mb,
               ocr_cache: str | os.PathLike | None = None,
               reuse: Callable[[Path, str], Document | None] | None = None,
               progress: Progress | None = None) -> tuple[list[Document], list[Skipped]]:
    """Load every usable file; return the documents and the skipped files with reasons. `reuse(file, source)`
    may return the Document an earlier build read from that unchanged file, so it is not read again."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for f, source in iter_files(paths):
        if not f.exists():
            skipped.append(Skipped(str(f), "no such file or folder"))
            continue
        if f.suffix.lower() not in SUFFIXES:
            skipped.append(Skipped(str(f), f"unsupported file type '{f.suffix or f.name}'"))
            continue
        if source in seen:
            skipped.append(Skipped(str(f), f"another file is already indexed as '{source}'"))
            continue
        try:
            known = reuse(f, source) if reuse else None
            docs.append(known or load_file(f, source=source, max_mb=max_mb, ocr_cache=ocr_cache, progress=progress))
            seen.add(source)
        except LoaderError as exc:
            skipped.append(Skipped(str(f), str(exc)))
        except OSError as exc:
            skipped.append(Skipped(str(f), f"cannot read the file ({exc.strerror or exc})"))
    return docs, skipped
