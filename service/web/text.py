"""Text written by people, shown safely: escaped, with its web addresses made into links."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# http(s) addresses up to whitespace or a closing bracket/quote; a sentence's final punctuation stays outside.
_ADDRESS = re.compile(r"https?://[^\s<>\"')\]]+")
_TRAILING = ".,;:!?"


def linkify(text: str | None) -> Markup:
    """Escape `text` and turn each http(s) address in it into a link that opens without our referrer."""
    if not text:
        return Markup("")
    parts: list[str] = []
    position = 0
    for match in _ADDRESS.finditer(text):
        address = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(address)
        parts.append(escape(text[position:match.start()]))
        parts.append(Markup('<a href="{0}" rel="noopener noreferrer nofollow">{0}</a>').format(address))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)
