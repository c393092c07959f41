"""What WCAG 2.1 AA asks of a page that a parser can check: ``audit(html)`` lists its failures.

A page must say its language and title, hold a ``main`` landmark and headings that start at one h1
and never skip a level, give every image a text alternative (an informative one also described in
words on the page: ``aria-describedby`` naming elements that are there), give every table a caption
and column headers, name every link and button, say of every link that opens a new tab or window that
it does (WCAG 3.2.5's advice, technique G201: :func:`new_tab_unsaid`), and draw every text at 4.5:1
contrast at least (:func:`low_contrast`, from the colours of its inline CSS).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

NEW_TAB = re.compile(r"\bnew (tab|window)\b", re.IGNORECASE)
"""What a link's name says when it opens a new tab or window."""
SAME_TAB = {"", "_self", "_parent", "_top"}
"""Link targets that open no new tab or window."""

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = ""
        self.title: list[str] = []
        self.ids: set[str] = set()
        self.landmarks: list[str] = []
        self.headings: list[int] = []
        self.images: list[dict[str, str]] = []
        self.tables: list[dict[str, object]] = []
        self.controls: list[tuple[str, dict[str, str], list[str]]] = []
        self.css: list[str] = []
        self._open: list[str] = []
        self._controls_open: list[int] = []
        """The controls whose text is being read (indexes into ``controls``), innermost last."""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag in ("main", "header", "nav", "footer") or a.get("role") in ("main", "banner", "navigation"):
            self.landmarks.append(a.get("role") or tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "img":
            self.images.append(a)
        if tag == "table":
            self.tables.append({"id": a.get("id") or a.get("class", ""), "caption": "", "th": 0, "scoped": 0})
        if tag == "th" and self.tables:
            self.tables[-1]["th"] += 1
            self.tables[-1]["scoped"] += bool(a.get("scope"))
        if tag in ("a", "button"):
            self.controls.append((tag, a, []))
            self._controls_open.append(len(self.controls) - 1)
        if tag not in VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("a", "button") and self._controls_open and self.controls[self._controls_open[-1]][0] == tag:
            self._controls_open.pop()
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if "title" in self._open:
            self.title.append(data)
        if "style" in self._open:
            self.css.append(data)
        if "caption" in self._open and self.tables:
            self.tables[-1]["caption"] += data
        for i in self._controls_open:
            self.controls[i][2].append(data)


def _parsed(page: str) -> _Audit:
    p = _Audit()
    p.feed(page)
    p.close()
    return p


def _name(a: dict[str, str], text: list[str]) -> str:
    """A link's or button's accessible name, as far as a parser sees it: its aria-label, else its text."""
    return a.get("aria-label", "").strip() or " ".join(text).strip()


def new_tab_unsaid(page: str) -> list[str]:
    """Each link of ``page`` that opens a new tab or window (a ``target`` other than the page's own)
    without its name saying so ("(opens in a new tab)"), in a line; [] for none."""
    return [f"<a> opens a new tab without saying so: {a}" for tag, a, text in _parsed(page).controls
            if tag == "a" and a.get("target", "") not in SAME_TAB and not NEW_TAB.search(_name(a, text))]


def audit(page: str) -> list[str]:
    """The page's failures of what this module checks, each in a line; [] for none."""
    p = _parsed(page)
    bad = [] if p.lang else ["<html> says no lang"]
    bad += [] if "".join(p.title).strip() else ["no <title>"]
    bad += [] if "main" in p.landmarks else ["no main landmark"]
    if not p.headings or p.headings[0] != 1 or p.headings.count(1) != 1:
        bad.append(f"headings do not start at one h1: {p.headings}")
    bad += [f"heading level skipped: h{x} after h{y}" for y, x in zip(p.headings, p.headings[1:]) if x > y + 1]
    for img in p.images:
        if not img.get("alt", "").strip():
            bad.append(f"image {img.get('id', '?')} has no text alternative")
        for ref in img.get("aria-describedby", "").split():
            bad += [] if ref in p.ids else [f"image {img.get('id', '?')} described by {ref}, which is not there"]
    for t in p.tables:
        bad += [] if str(t["caption"]).strip() else [f"table {t['id']} has no caption"]
        bad += [] if t["th"] and t["th"] == t["scoped"] else [f"table {t['id']}: headers without scope"]
    bad += [f"<{tag}> without a name: {a}" for tag, a, text in p.controls if not _name(a, text)]
    return bad + new_tab_unsaid(page) + low_contrast("".join(p.css))


def luminance(colour: str) -> float:
    """WCAG's relative luminance of ``#rgb`` or ``#rrggbb``."""
    h = colour.lstrip("#")
    h = "".join(c * 2 for c in h) if len(h) == 3 else h
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        props = dict((k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d))
        colours = {k: m.group(0) for k, v in props.items() if k in ("color", "background")
                   and (m := re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", v))}
        out.append((selectors.strip(), colours))
    return out


def low_contrast(css: str) -> list[str]:
    """Each text colour of ``css`` under 4.5:1 against the background it is drawn on: its own rule's,
    else its variants' (``.sev`` on ``.sev.warning``'s), else each surface of the page (a background
    set without a text colour, the body's, white)."""
    rules = _rules(css)
    coloured = [s for s, c in rules if "color" in c]
    surfaces = {"#fff"} | {c["background"] for s, c in rules if "background" in c and "color" not in c
                           and not any(s.startswith(t + ".") for t in coloured)}  # a badge's colour is no surface
    surfaces |= {c["background"] for s, c in rules if s == "body" and "background" in c}
    bad = []
    for selector, c in rules:
        if "color" not in c:
            continue
        variants = sorted({v["background"] for s, v in rules if s.startswith(selector + ".") and "background" in v})
        for bg in [c["background"]] if "background" in c else variants or sorted(surfaces):
            if (ratio := contrast(c["color"], bg)) < 4.5:
                bad.append(f"{selector}: text {c['color']} on {bg} is {ratio:.2f}:1, under 4.5:1")
    return bad
