"""The marks of a map, apart from where they go: colours, symbols, legend swatches and rows, and text made
safe for SVG (escaped, without the characters XML cannot carry, cut to a length)."""

from __future__ import annotations

import html
import math
import re

MAX_LABEL_CHARS = 120
LEGEND_ROW_PX = 18
LEGEND_CHAR_PX = 6.8
"""The width of an average character of the legend's 12 px text, a little generous."""
LEGEND_TEXT_INDENT_PX = 22
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"

STATUS_COLOURS = {
    "pending": "#e9c46a",
    "offered": "#f4a261",
    "accepted": "#8ab17d",
    "picked_up": "#287271",
    "delivered": "#2a9d8f",
    "failed": "#d62828",
    "returned": "#9d0208",
    "fallback": "#e76f51",
    "cancelled": "#8d99ae",
    "refused": "#6c757d",
}
"""Drop-off colours by order status; any other status is drawn grey."""
STATUS_ORDER = tuple(STATUS_COLOURS)
OTHER_STATUS_COLOUR = "#495057"
STORE_COLOUR = "#f4a261"
AREA_COLOUR = "#264653"
DESTINATION_COLOUR = "#7b2cbf"
SHOPPER_COLOUR = "#1d4ed8"
ROUTE_COLOUR = "#264653"
STREET_COLOUR = "#c8ccd2"
GRID_COLOUR = "#e3e6ea"
MAJOR_ROADS = frozenset({"motorway", "trunk", "primary", "secondary"})


def status_words(code: str) -> str:
    """An order status as a legend or a label says it: "picked_up" -> "picked up"."""
    return code.replace("_", " ")


def legend(entries: list[tuple[str, str]], width: int, top: int, columns: int) -> tuple[str, int]:
    """Rows of (swatch, words) in `columns` columns from `top` down, and their height. Words too long for a
    column take a whole row, and wrap onto more lines when even a row is too narrow: nothing is cut off."""
    column_width = width / columns
    parts = ['<g data-layer="legend" font-size="12" fill="#222222">']
    row, column = 0, 0
    for swatch, words in entries:
        said = clean(words, 160)
        wide = _text_px(said) > column_width - LEGEND_TEXT_INDENT_PX - 8
        if wide and column > 0:
            row, column = row + 1, 0
        x, y = 8 + column * column_width, top + row * LEGEND_ROW_PX
        if swatch:
            parts.append(f'<g transform="translate({x:.1f},{y:.1f})">{swatch}</g>')
        lines = _wrapped(said, width - 16 - LEGEND_TEXT_INDENT_PX) if wide else [said]
        continued = "".join(
            f'<tspan x="{x + LEGEND_TEXT_INDENT_PX:.1f}" dy="{LEGEND_ROW_PX}">{html.escape(line, quote=False)}</tspan>'
            for line in lines[1:]
        )
        parts.append(
            f'<text x="{x + LEGEND_TEXT_INDENT_PX:.1f}" y="{y + 12:.1f}">'
            f"{html.escape(lines[0], quote=False)}{continued}</text>"
        )
        if wide:
            row, column = row + len(lines), 0
        else:
            row, column = (row + 1, 0) if column + 1 == columns else (row, column + 1)
    parts.append("</g>")
    rows = row + (1 if column > 0 else 0)
    return "".join(parts), rows * LEGEND_ROW_PX


def _text_px(words: str) -> float:
    """About how wide 12 px text is: wide enough for most system fonts, so that it is never cut off."""
    return len(words) * LEGEND_CHAR_PX


def _wrapped(words: str, room_px: float) -> list[str]:
    """Words in lines that each fit `room_px`."""
    lines: list[str] = []
    for word in words.split():
        if lines and _text_px(f"{lines[-1]} {word}") <= room_px:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def swatch_dot(colour: str) -> str:
    return f'<circle cx="8" cy="8" r="5" fill="{colour}"/>'


def swatch_line(colour: str) -> str:
    return f'<path d="M0,8 H16" stroke="{colour}" stroke-width="2.5"/>'


def swatch_area() -> str:
    return (
        f'<rect x="1" y="2" width="14" height="12" fill="{AREA_COLOUR}" fill-opacity="0.08" stroke="{AREA_COLOUR}" '
        'stroke-dasharray="4 2"/>'
    )


def swatch_diamond() -> str:
    return f'<path d="{diamond(8, 8, 5)}" fill="none" stroke="{DESTINATION_COLOUR}" stroke-width="1.6"/>'


def swatch_triangle() -> str:
    return f'<path d="{triangle(8, 8, 6)}" fill="{SHOPPER_COLOUR}"/>'


def swatch_star() -> str:
    return f'<path d="{star(8, 8, 7)}" fill="{STORE_COLOUR}" stroke="#000000"/>'


def diamond(x: float, y: float, r: float) -> str:
    return f"M{x:.1f},{y - r:.1f} L{x + r:.1f},{y:.1f} L{x:.1f},{y + r:.1f} L{x - r:.1f},{y:.1f} Z"


def triangle(x: float, y: float, r: float) -> str:
    return f"M{x:.1f},{y - r:.1f} L{x + r * 0.87:.1f},{y + r / 2:.1f} L{x - r * 0.87:.1f},{y + r / 2:.1f} Z"


def star(x: float, y: float, r: float) -> str:
    points = []
    for index in range(10):
        radius = r if index % 2 == 0 else r * 0.45
        angle = math.pi / 5 * index - math.pi / 2
        points.append(f"{x + radius * math.cos(angle):.1f},{y + radius * math.sin(angle):.1f}")
    return "M" + " L".join(points) + " Z"


NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: str, limit: int) -> str:
    text = NOT_XML.sub("", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: str, limit: int = MAX_LABEL_CHARS) -> str:
    return html.escape(clean(value, limit), quote=False)


def attr(value: str) -> str:
    return html.escape(clean(value, MAX_LABEL_CHARS), quote=True)


def title(label: str) -> str:
    return f"<title>{text(label)}</title>" if label else ""
