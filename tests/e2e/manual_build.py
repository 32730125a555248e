"""The manuals (docs/manuals/*.ja.md) as printable A4 PDFs: Markdown → HTML with a print stylesheet → Chromium.

The screenshots the Markdown references (``shots/<name>.png``) are taken from the real pages by
tests/e2e/test_manual_screenshots.py, which then calls `build_pdf` for each manual.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "docs" / "manuals"
BUILD = ROOT / "build" / "manual"
SHOTS = BUILD / "shots"

_IMAGE = re.compile(r"!\[[^\]]*\]\((shots/[^)\s]+\.png)\)")


@dataclass(frozen=True)
class Manual:
    name: str  # the file stem: docs/manuals/<name>.ja.md → build/manual/<name>.pdf
    title: str
    audience: str


MANUALS = (
    Manual("staff-manual", "jiseki 利用マニュアル", "職員向け"),
    Manual("operations-manual", "jiseki 運用マニュアル", "情報システム担当向け"),
)

# A4, Japanese fonts (fonts-noto-cjk), a title page, a table of contents, page numbers in the footer.
CSS = """
@page { size: A4; margin: 20mm 18mm 22mm 18mm; }
html { font-family: "Noto Sans CJK JP", "Noto Sans JP", sans-serif; font-size: 10.5pt; line-height: 1.7;
       color: #111; }
body { margin: 0; }
h1, h2, h3 { font-family: "Noto Sans CJK JP", sans-serif; line-height: 1.4; }
h1 { font-size: 18pt; border-bottom: 2px solid #1d4e89; padding-bottom: 4pt; break-before: page; }
h2 { font-size: 13.5pt; color: #1d4e89; margin-top: 18pt; break-after: avoid; }
h3 { font-size: 11.5pt; margin-top: 14pt; break-after: avoid; }
p, li { orphans: 3; widows: 3; }
ol, ul { padding-left: 1.6em; }
code { font-family: "Noto Sans Mono CJK JP", monospace; font-size: 9.5pt; background: #f2f2f2; padding: 0 2pt; }
pre { background: #f2f2f2; padding: 6pt 8pt; white-space: pre-wrap; break-inside: avoid; font-size: 9pt; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; width: 100%; margin: 8pt 0; break-inside: auto; font-size: 9.5pt; }
th, td { border: 1px solid #999; padding: 3pt 5pt; vertical-align: top; text-align: left; }
th { background: #e8eef6; }
tr { break-inside: avoid; }
img { max-width: 100%; max-height: 120mm; display: block; margin: 6pt auto; border: 1px solid #bbb;
      break-inside: avoid; }
blockquote { border-left: 4px solid #c33; margin: 8pt 0; padding: 2pt 10pt; background: #fff5f5; }
.title-page { height: 250mm; display: flex; flex-direction: column; justify-content: center; text-align: center; }
.title-page .title { font-size: 28pt; font-weight: bold; color: #1d4e89; }
.title-page .audience { font-size: 14pt; margin-top: 12pt; }
.title-page .issued { margin-top: 60pt; font-size: 11pt; }
nav.toc { break-before: page; }
nav.toc h2 { font-size: 16pt; color: #111; }
nav.toc ul { list-style: none; padding-left: 0; }
nav.toc li { display: flex; align-items: baseline; }
nav.toc li a { color: #111; text-decoration: none; }
nav.toc li::after { content: ""; order: 1; flex: 1; border-bottom: 1px dotted #888; margin: 0 4pt; }
nav.toc li .page { order: 2; min-width: 2em; text-align: right; }
nav.toc li.level1 { font-weight: bold; margin-top: 5pt; }
nav.toc li.level2 { padding-left: 1.5em; }
"""

FOOTER = (
    '<div style="width:100%;font-size:8pt;text-align:center;color:#555;'
    'font-family:\'Noto Sans CJK JP\',sans-serif;">{title}　<span class="pageNumber"></span> / '
    '<span class="totalPages"></span></div>'
)


def source_of(manual: Manual) -> Path:
    return SOURCES / f"{manual.name}.ja.md"


def referenced_images(text: str) -> list[str]:
    """The screenshots a manual shows, as paths relative to the build directory (``shots/x.png``)."""
    return _IMAGE.findall(text)


def headings(text: str) -> list[tuple[str, str, int]]:
    """The chapters and sections the table of contents lists: (anchor, text, level 1 or 2), in order."""
    return _convert(text)[1]


def _convert(text: str) -> tuple[str, list[tuple[str, str, int]]]:
    import markdown
    from markdown.extensions.toc import slugify_unicode

    md = markdown.Markdown(
        extensions=["toc", "tables", "attr_list", "fenced_code", "sane_lists"],
        extension_configs={"toc": {"toc_depth": "1-2", "slugify": slugify_unicode}},
    )
    body = md.convert(text)
    found: list[tuple[str, str, int]] = []

    def walk(tokens: list[dict[str, Any]]) -> None:
        for token in tokens:
            found.append((token["id"], html.unescape(token["name"]), token["level"]))
            walk(token["children"])

    walk(md.toc_tokens)  # type: ignore[attr-defined]
    return body, found


def to_html(manual: Manual, text: str, issued: str, pages: dict[str, int] | None = None) -> str:
    """The manual as one HTML page: a title page, the table of contents (chapters and sections, with their
    page numbers when `pages` gives them), the body."""
    body, found = _convert(text)
    entries = "".join(
        f'<li class="level{level}"><a href="#{html.escape(anchor)}">{html.escape(name)}</a>'
        f'<span class="page">{(pages or {}).get(anchor, "")}</span></li>'
        for anchor, name, level in found
    )
    title = html.escape(manual.title)
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f'<section class="title-page"><div class="title">{title}</div>'
        f'<div class="audience">{html.escape(manual.audience)}</div>'
        f'<div class="issued">{html.escape(issued)}</div></section>'
        f'<nav class="toc"><h2>目次</h2><ul>{entries}</ul></nav>'
        f"{body}</body></html>"
    )


def flat(text: str) -> str:
    """Text as `pdf_text` gives it, to find it there."""
    # The CJK fonts map some ideographs to radicals in the PDF's text layer (用 → ⽤): NFKC undoes it;
    # and the middle dot (・) comes out as U+2027.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).replace("\u2027", "・")


def pdf_text(pdf: Path) -> list[str]:
    """Each page's text, normalised (NFKC, no white space) for searching."""
    from pypdf import PdfReader

    return [flat(page.extract_text()) for page in PdfReader(pdf).pages]


def heading_pages(found: list[tuple[str, str, int]], pages: list[str]) -> dict[str, int]:
    """The page (1-based) each heading is printed on: searched in order, after the table of contents."""
    located: dict[str, int] = {}
    start = next((i + 1 for i, page in enumerate(pages) if "目次" in page), 1)
    for anchor, name, _level in found:
        for number in range(start, len(pages)):
            if flat(name) in pages[number]:
                located[anchor] = start = number
                break
    return {anchor: number + 1 for anchor, number in located.items()}


def build_pdf(browser: Any, manual: Manual, issued: str) -> Path:
    """Write build/manual/<name>.html and print it to build/manual/<name>.pdf with Chromium, twice: the
    second time the table of contents carries the page numbers the first printing found."""
    BUILD.mkdir(parents=True, exist_ok=True)
    text = source_of(manual).read_text("utf-8")
    pdf = BUILD / f"{manual.name}.pdf"
    context = browser.new_context()
    try:
        page = context.new_page()
        pages: dict[str, int] | None = None
        for printing in (1, 2):
            page_html = BUILD / f"{manual.name}.html"
            page_html.write_text(to_html(manual, text, issued, pages), "utf-8")
            page.goto(page_html.as_uri(), wait_until="load")
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                prefer_css_page_size=True,
                display_header_footer=True,
                header_template="<div></div>",
                footer_template=FOOTER.format(title=html.escape(manual.title)),
            )
            if printing == 1:
                pages = heading_pages(headings(text), pdf_text(pdf))
    finally:
        context.close()
    return pdf
