"""A matplotlib figure as a small, accessible SVG document that can stand alone (served as
``image/svg+xml``) or sit inline in an HTML page beside other charts.

matplotlib is imported inside the functions: it takes a few hundred milliseconds to load, and only
a chart needs it. Each chart has its own ``Figure`` and SVG canvas, never pyplot's global figure
manager, so charts may be drawn in several threads at once.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from html import escape
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FONT = "DejaVu Sans"  # installed with matplotlib and on the server (WeasyPrint uses it too)

_defaults_set = threading.Lock()
_ready = False

# matplotlib's SVG writer has no per-figure switch for these; they are process-wide rcParams,
# set once before the first chart to values every chart shares (never through rc_context,
# which would restore them under another thread's feet).
_RC = {
    "svg.fonttype": "none",  # text stays text: selectable, searchable, no glyph paths
    "svg.hashsalt": "standby",  # ids from content, not random: the same table gives the same SVG
    "font.family": FONT,
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 7.5,
    "axes.edgecolor": "#444444",
    "axes.linewidth": 0.6,
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "legend.fontsize": 7.0,
}
# no RDF block (creator, date, format): a changing date would make equal charts differ
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def _ensure_defaults() -> None:
    global _ready
    if _ready:
        return
    with _defaults_set:
        if not _ready:
            import matplotlib

            matplotlib.rcParams.update(cast(Any, _RC))
            _ready = True


def figure(width_in: float, height_in: float) -> Figure:
    """A new figure of that size (inches; 72 pt each in the SVG), laid out to fit its labels."""
    _ensure_defaults()
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def document(chart: Figure, title: str, description: str, name: str) -> str:
    """``chart`` as SVG text with ``title`` and ``description`` as its ``<title>`` and ``<desc>``
    (``role="img"``, labelled by both). Ids are prefixed with ``name`` and a digest of the drawing,
    so two different charts on one page never share an id and the same chart twice is the same
    text. Coordinates are rounded to 0.1 pt."""
    out = io.StringIO()
    chart.savefig(out, format="svg", metadata=_NO_METADATA)
    text = out.getvalue()
    text = text[text.index("<svg") :]  # no XML prolog or DOCTYPE: it may sit inside HTML
    text = _BETWEEN_TAGS.sub("><", text)
    text = _INSIDE_TAG.sub(lambda tag: _SPACES.sub(" ", tag[0]), text)
    # presentation attributes, not CSS: WeasyPrint reads a style="" inside HTML as the page's
    # CSS and warns of every SVG property in it; the attributes mean the same to every reader
    text = text.replace(_SHARED_STYLE, "")
    text = _STYLE.sub(_attributes, text)
    referenced = set(_REFERENCE.findall(text))
    # matplotlib names every group (figure_1, patch_2, text_14...); only referenced ids and
    # the ones a chart set itself (bar-30, line-90s) mean anything
    text = _ID.sub(lambda m: "" if _AUTO_ID.match(m[2]) and m[2] not in referenced else m[0], text)
    text = _INSIDE_TAG.sub(lambda tag: _NUMBER.sub(_rounded, tag[0]), text)
    text = text.replace(f"'{FONT}'", f"'{FONT}', sans-serif")
    prefix = f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"
    text = _ID.sub(lambda m: f'{m[1]}"{prefix}-{m[2]}"', text)
    text = _REFERENCE_AT.sub(lambda m: f"{m[1]}#{prefix}-{m[2]}", text)
    opening = text.index(">", text.index("<svg")) + 1
    labels = (
        f'<title id="{prefix}-title">{escape(title)}</title>'
        f'<desc id="{prefix}-desc">{escape(description)}</desc>'
    )
    head = text[: opening - 1] + (f' role="img" aria-labelledby="{prefix}-title {prefix}-desc">')
    return head + labels + text[opening:]


def empty(title: str, message: str, name: str) -> str:
    """A chart with nothing to draw: the title and ``message`` in words, same width as the rest."""
    chart = figure(7.5, 0.9)
    chart.text(0.5, 0.66, title, ha="center", va="center", fontsize=8.5, color="#222222")
    chart.text(0.5, 0.3, message, ha="center", va="center", fontsize=9, color="#555555", wrap=True)
    return document(chart, title, f"{title}: {message}.", name)


_INSIDE_TAG = re.compile(r"<[^>]*>")
_NUMBER = re.compile(r"-?\d+\.\d{2,}")
_ID = re.compile(r'( id=)"([^"]+)"')
_AUTO_ID = re.compile(r"^[A-Za-z0-9.]+_\d+$")
_REFERENCE = re.compile(r"(?:url\(|xlink:href=\")#([^)\"]+)")
_REFERENCE_AT = re.compile(r"(url\(|xlink:href=\")#([^)\"]+)")
_SHARED_STYLE = (
    '<defs><style type="text/css">*{stroke-linejoin: round; stroke-linecap: butt}</style></defs>'
)
_STYLE = re.compile(r' style="([^"]*)"')
_BETWEEN_TAGS = re.compile(r">\s+<")
_SPACES = re.compile(r"\s*\n\s*")


def _attributes(match: re.Match[str]) -> str:
    """``style="fill: #fff; stroke-width: 0.8"`` as `` fill="#fff" stroke-width="0.8"``."""
    pairs = (part.split(":", 1) for part in match[1].split(";") if ":" in part)
    return "".join(f' {name.strip()}="{value.strip()}"' for name, value in pairs)


def _rounded(match: re.Match[str]) -> str:
    value = round(float(match[0]), 1)
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != 0 else "0"
