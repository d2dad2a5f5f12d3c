"""Documents made on the spot, for tests and `rag bench`: a PDF whose pages are text (with a ToUnicode map) or
page images (a scan, no text layer), and page images of Chinese text drawn with Noto Sans CJK."""
from __future__ import annotations


def make_pdf(pages: list) -> bytes:
    """A PDF whose pages hold the given lines, with a ToUnicode map so text extraction reads them (the font is
    not embedded: nothing here needs the glyphs drawn); a page given as a PIL image is a scan (no text layer)."""
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    cmap = ["/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange", "100 beginbfrange"]
    ranges = [f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256)]
    body = []
    for i in range(0, 256, 100):
        chunk = ranges[i:i + 100]
        body.append(f"{len(chunk)} beginbfrange\n" + "\n".join(chunk) + "\nendbfrange")
    cmap = "\n".join(cmap[:3] + body + ["endcmap CMapName currentdict /CMap defineresource pop end end"]).encode()
    tounicode = add(b"<< /Length %d >>\nstream\n" % len(cmap) + cmap + b"\nendstream")
    desc = add(b"<< /Type /FontDescriptor /FontName /NotoSansCJK /Flags 4 /FontBBox [0 -200 1000 900] /ItalicAngle 0 "
               b"/Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>")
    cid = add(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /NotoSansCJK /CIDSystemInfo << /Registry (Adobe) "
              b"/Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /DW 1000 /CIDToGIDMap /Identity >>" % desc)
    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /NotoSansCJK /Encoding /Identity-H "
               b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid, tounicode))
    images = []
    for lines in pages:  # a page given as an image: a scan, no text layer
        if not isinstance(lines, list):
            import io

            jpeg = io.BytesIO()
            lines.convert("RGB").save(jpeg, "JPEG", quality=90)
            data = jpeg.getvalue()
            images.append(add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
                               b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
                               % (lines.width, lines.height, len(data)) + data + b"\nendstream"))
        else:
            images.append(None)
    pages_id = len(objs) + 2 * len(pages) + 1
    kids = []
    for lines, image in zip(pages, images):
        if image is not None:
            stream = b"q 595 0 0 842 0 0 cm /Im1 Do Q"
            resources = b"/XObject << /Im1 %d 0 R >>" % image
        else:
            ops = ["BT /F1 12 Tf 14 TL 50 780 Td"]
            for line in lines:
                ops.append("<" + "".join(f"{ord(ch):04X}" for ch in line) + "> Tj T*")
            ops.append("ET")
            stream = "\n".join(ops).encode()
            resources = b"/Font << /F1 %d 0 R >>" % font
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                        b"/Resources << %s >> >>" % (pages_id, content, resources)))
    assert add(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, xref)
    return bytes(out)


CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def render_lines(lines: list[str], width: int = 1240, height: int | None = None, size: int = 32):
    """A white page with the lines drawn in Noto Sans CJK (a paragraph's first line indented by its spaces)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(CJK_FONT, size)
    step = int(size * 1.8)
    img = Image.new("RGB", (width, height or (len(lines) * step + 2 * size + 60)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        indent = (len(line) - len(line.lstrip(" "))) * size // 2
        draw.text((80 + indent, 60 + i * step), line.lstrip(" "), font=font, fill="black")
    return img
