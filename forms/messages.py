"""Validation messages in Danish: the English messages of ``forms.validation`` translated by pattern.

The messages stay English in the API (``fields`` of a 422); a page shows them in the reader's language.
A message no pattern knows is shown as it is, in English, rather than wrongly.
"""

from __future__ import annotations

import re

_TYPES_DA = {
    "text": "tekst", "a whole number": "et helt tal", "a number": "et tal", "true or false": "ja eller nej",
    "a list": "en liste", "an object": "et objekt", "empty": "tom",
}


_TYPE_NAME = re.compile("|".join(re.escape(name) for name in sorted(_TYPES_DA, key=len, reverse=True)))


def _types(match: re.Match[str]) -> str:
    kinds = _TYPE_NAME.findall(match[1])
    return "Skal være " + " eller ".join(_TYPES_DA[kind] for kind in kinds) + "."


_KIND = "(?:text|a whole number|a number|true or false|a list|an object|empty)"
_TYPE_LIST = rf"^Must be ({_KIND}(?: or {_KIND})*)\.$"


def _plural(count: str, singular: str, plural: str) -> str:
    return f"{count} {singular if count == '1' else plural}"


_DANISH: list[tuple[re.Pattern[str], object]] = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"^This field is required\.$", "Feltet skal udfyldes."),
    (r"^Unknown field\.$", "Ukendt felt."),
    (r"^Form data must be a JSON object\.$", "Formularens data skal være et JSON-objekt."),
    (r"^Must not be empty\.$", "Må ikke være tom."),
    (r"^Must not be before ([0-9]{4}-[0-9]{2}-[0-9]{2})\.$", lambda m: f"Må ikke ligge før {m[1]}."),
    ((r"^Does not balance: the movements give (\S+), (\S+) is (\S+) \(difference (\S+), tolerance (\S+)\)\. "
     r"Explain the difference\.$"),
     lambda m: f"Går ikke op: bevægelserne giver {m[1]}, {m[2]} er {m[3]} (forskel {m[4]}, tolerance {m[5]}). "
               "Forklar forskellen."),
    (r"^Must be a date \(YYYY-MM-DD\)\.$", "Skal være en dato (ÅÅÅÅ-MM-DD)."),
    (r"^Must be a date and time with a time zone .*$", "Skal være dato og klokkeslæt med tidszone."),
    (r"^Must be an e-mail address\.$", "Skal være en e-mailadresse."),
    (r"^Has the wrong format\.$", "Har et forkert format."),
    (r"^Must not contain the same value twice\.$", "Må ikke indeholde den samme værdi to gange."),
    (r"^Must be one of: (.*)\.$", lambda m: f"Skal være en af: {m[1]}."),
    (r"^(.*) is not an allowed value\.$", lambda m: f"{m[1]} er ikke en tilladt værdi."),
    (r"^Must be at least (\d+) characters?\.$", lambda m: f"Skal være mindst {_plural(m[1], 'tegn', 'tegn')}."),
    (r"^Must be at most (\d+) characters?\.$", lambda m: f"Må højst være {_plural(m[1], 'tegn', 'tegn')}."),
    (r"^Must have at least (\d+) (?:entry|entries)\.$",
     lambda m: f"Skal have mindst {_plural(m[1], 'række', 'rækker')}."),
    (r"^Must have at most (\d+) (?:entry|entries)\.$",
     lambda m: f"Må højst have {_plural(m[1], 'række', 'rækker')}."),
    (r"^Must be at least (.+)\.$", lambda m: f"Skal være mindst {m[1]}."),
    (r"^Must be at most (.+)\.$", lambda m: f"Må højst være {m[1]}."),
    (_TYPE_LIST, _types),
    (r"^Must be (.+)\.$", lambda m: f"Skal være {m[1]}."),
]]


def translate(message: str, language: str) -> str:
    """The message in ``language`` ("da" or "en"); unknown messages are returned unchanged."""
    if language != "da":
        return message
    for pattern, replacement in _DANISH:
        match = pattern.match(message)
        if match:
            return replacement if isinstance(replacement, str) else replacement(match)  # type: ignore[operator]
    return message
