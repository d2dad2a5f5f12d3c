"""Read files into Documents: .txt/.md (UTF-8, BOM, GB18030/GBK), .docx, .pdf.

A file that cannot be used raises LoaderError with the reason; `load_paths` collects those
as Skipped entries so one bad file never stops a run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from .config import Settings
from .errors import LoaderError
from .models import Document, Skipped

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUFFIXES = TEXT_SUFFIXES | {".docx", ".pdf"}


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8 (with or without BOM), else GB18030 (a superset of GBK), else refuse."""
    if not data.strip():
        raise LoaderError("the file is empty")
    if b"\x00" in data[:4096]:
        raise LoaderError("the file looks binary (it contains NUL bytes), not text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    raise LoaderError("the text encoding is not UTF-8 or GBK/GB18030; save it as UTF-8 and retry")


def _looks_like_text(text: str) -> bool:
    sample = text[:4000]
    bad = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\n\r\t\f") or ch == "\ufffd")
    return bad <= len(sample) * 0.01


def load_file(path: str | os.PathLike, source: str | None = None, max_mb: float = Settings.max_file_mb) -> Document:
    """Load one file. Raises LoaderError saying why it cannot be used."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise LoaderError(f"unsupported file type '{suffix or p.name}' (use .txt, .md, .docx or .pdf)")
    size = p.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise LoaderError(f"the file is {size / 1e6:.0f} MB, over the {max_mb} MB limit; split it, or raise RAG_MAX_FILE_MB")
    pages: list[int] = []
    if suffix in TEXT_SUFFIXES:
        text = decode_text(p.read_bytes())
    elif suffix == ".docx":
        text = _read_docx(p)
    else:
        text, pages = _read_pdf(p)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoaderError("no text could be extracted from the file")
    return Document(source=source or p.name, text=text, path=str(p), pages=pages)


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


def _read_pdf(p: Path) -> tuple[str, list[int]]:
    try:
        from pypdf import PdfReader

        reader = PdfReader(str(p))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types for broken files
        raise LoaderError(f"the .pdf file is corrupt or unreadable ({type(exc).__name__})") from exc
    # A blank line marks a page break; the repair step rejoins sentences cut by it.
    pages = [t.replace("\r\n", "\n").replace("\r", "\n") for t in pages]
    starts, at = [], 0
    for t in pages:
        starts.append(at)
        at += len(t) + 2
    return "\n\n".join(pages), starts


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


def load_paths(paths: Iterable[str | os.PathLike],
               max_mb: float = Settings.max_file_mb) -> tuple[list[Document], list[Skipped]]:
    """Load every usable file; return the documents and the skipped files with reasons."""
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
            docs.append(load_file(f, source=source, max_mb=max_mb))
            seen.add(source)
        except LoaderError as exc:
            skipped.append(Skipped(str(f), str(exc)))
        except OSError as exc:
            skipped.append(Skipped(str(f), f"cannot read the file ({exc.strerror or exc})"))
    return docs, skipped
