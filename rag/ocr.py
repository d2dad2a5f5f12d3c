"""OCR for images and for PDF pages without a usable text layer: RapidOCR (PP-OCRv4 models inside the
rapidocr-onnxruntime wheel, offline). Imported only when a file needs it.

Lines come back as boxes; they are put in reading order (a page in two columns is read column by column,
a line across both columns separates bands, as in a newspaper page) and written as text lines, a paragraph's
first line indented, so the same repair as for OCR'd text files rejoins hard wraps and finds headings."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import lru_cache

from .errors import LoaderError

LOW_CONFIDENCE = 0.8  # an OCR line scored below this is kept, and counted in the document's stats
# A paragraph's first line starts about two characters (line heights) right of its column; a line further in is
# centred (a title or heading), not indented.
INDENT = (0.6, 3.0)


@dataclass
class Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass
class OcrText:
    """The text read from one image, and how many of its lines were read with low confidence."""

    text: str
    lines: int
    low_confidence: int


@lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - a dependency; this is for broken installs
        raise LoaderError("OCR needs rapidocr-onnxruntime: pip install rapidocr-onnxruntime") from exc
    return RapidOCR()


def ocr_image(image) -> OcrText:
    """Read a PIL image: its lines in reading order as text."""
    import numpy as np

    result, _ = _engine()(np.array(image.convert("RGB")))
    lines = [Line(text, min(p[0] for p in box), min(p[1] for p in box), max(p[0] for p in box),
                  max(p[1] for p in box), float(score)) for box, text, score in (result or []) if text.strip()]
    return OcrText(layout(lines, image.width), len(lines), sum(1 for ln in lines if ln.score < LOW_CONFIDENCE))


def layout(lines: list[Line], width: float) -> str:
    """The lines as text in reading order. Lines across the page's middle (titles, single-column text) and runs
    of lines that stay on one side alternate down the page; a run with lines on both sides is two columns,
    read left column then right, each top to bottom."""
    if not lines:
        return ""
    middle = width / 2
    margin = min(ln.x0 for ln in lines)
    out: list[str] = []
    band: list[Line] = []
    wide = None
    for line in sorted(lines, key=lambda ln: ln.y0):
        crosses = line.x0 < middle - 0.05 * width and line.x1 > middle + 0.05 * width
        if band and crosses != wide:
            out += _band_text(band, middle, margin, wide)
            band = []
        band.append(line)
        wide = crosses
    out += _band_text(band, middle, margin, wide)
    return "\n".join(out)


def _band_text(band: list[Line], middle: float, margin: float, wide: bool) -> list[str]:
    left = sum(1 for ln in band if ln.x1 <= middle)
    right = sum(1 for ln in band if ln.x0 >= middle)
    if wide or left < 2 or right < 2:  # one column: indents measured from the page's margin
        return _lines_text(band, margin)
    return (_lines_text([ln for ln in band if (ln.x0 + ln.x1) / 2 < middle]) +
            _lines_text([ln for ln in band if (ln.x0 + ln.x1) / 2 >= middle]))


def _lines_text(lines: list[Line], left: float | None = None) -> list[str]:
    """One column's lines top to bottom (boxes on the same row joined left to right); a line indented from
    the column's left edge (`left`, else its leftmost line), or after a gap, starts a paragraph."""
    if not lines:
        return []
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.y0):
        if rows and line.y0 < rows[-1][0].y0 + 0.5 * rows[-1][0].height:
            rows[-1].append(line)
        else:
            rows.append([line])
    height = statistics.median(ln.height for ln in lines)
    left = min(ln.x0 for ln in lines) if left is None else left
    out: list[str] = []
    previous_bottom = None
    for row in rows:
        row.sort(key=lambda ln: ln.x0)
        text = "".join(ln.text.strip() for ln in row)
        indented = INDENT[0] * height <= row[0].x0 - left <= INDENT[1] * height
        gap = previous_bottom is not None and row[0].y0 - previous_bottom > 1.2 * height
        if gap and out:
            out.append("")
        out.append(("  " if indented else "") + text)
        previous_bottom = max(ln.y1 for ln in row)
    return out
