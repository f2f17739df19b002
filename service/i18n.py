"""Danish and English for the web pages: Flask-Babel with the catalogue in `service/translations`.

Source strings are English, wrapped in `_()`; Danish is the default locale. The locale of a request is
the language chosen in the session, else the user's own, else Danish (service.web.session).

After changing a text, refresh the catalogue (tests/web/test_translations.py fails until it is done):

    pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output
                    -o service/translations/messages.pot .   (one command)
    pybabel update -i service/translations/messages.pot -d service/translations -l da --no-fuzzy-matching
    # translate the new entries in service/translations/da/LC_MESSAGES/messages.po, then
    pybabel compile -d service/translations
"""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale, dates
from flask import Flask
from flask_babel import Babel, get_locale

from forms.messages import translate as translate_message

LOCAL_TIMEZONE = "Europe/Copenhagen"
_ZONE = ZoneInfo(LOCAL_TIMEZONE)


def _locale() -> str:
    from service.web.session import chosen_language  # noqa: PLC0415 - the web layer needs the app first

    return chosen_language()


# The Babel locale a language's dates and times are written in: English as written in Europe (day before
# month, 24-hour clock: "30/11/2026, 16:38"), never the American "11/30/26, 4:38 PM".
DATE_LOCALES = {"da": "da_DK", "en": "en_GB"}


def _date_locale() -> Locale:
    """The request's date locale, parsed once per process (Babel parses a locale name and loads its data
    on every call otherwise: the queue page formats a hundred dates)."""
    locale = get_locale()
    return _parsed(DATE_LOCALES.get(locale.language if locale else "da", "da_DK"))


@functools.cache
def _parsed(name: str) -> Locale:
    return Locale.parse(name)


def local_time(value: datetime | None, style: str = "medium") -> str:
    """A UTC time as Copenhagen wall-clock time in the request's language ("" for None): the date with
    its month written out or as digits in the language's order, and the time to the minute."""
    if value is None:
        return ""
    moment = value.astimezone(_ZONE)
    locale = _date_locale()
    day = dates.format_date(moment.date(), style, locale=locale)
    return f"{day} {dates.format_time(moment, 'HH:mm', locale=locale)}"


def local_date(value: datetime | None, style: str = "medium") -> str:
    """The Copenhagen calendar date of a UTC time in the request's language ("" for None)."""
    if value is None:
        return ""
    return dates.format_date(value.astimezone(_ZONE).date(), style, locale=_date_locale())


def words(danish: str | None, english: str | None = None) -> str:
    """A text the process gives in Danish and (maybe) English, in the request's language: the English when
    the reader reads English and there is one, else the Danish (template global ``words``)."""
    locale = get_locale()
    if locale is not None and locale.language == "en" and english:
        return english
    return danish or ""


def N_(message: str) -> str:  # gettext's name for "mark for the catalogue, translate later"
    """Mark a message for extraction without translating it here."""
    return message


def engine_text(message: str) -> str:
    """A form-validation message of the engine in the request's language (template filter `engine_text`)."""
    locale = get_locale()
    return translate_message(message, locale.language if locale else "da")


def init_i18n(app: Flask) -> Babel:
    """Bind Flask-Babel to the app, with Copenhagen time and the locale of each request."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "da")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", LOCAL_TIMEZONE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel = Babel(app, locale_selector=_locale, timezone_selector=lambda: LOCAL_TIMEZONE)
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["local_date"] = local_date
    app.jinja_env.filters["engine_text"] = engine_text
    app.jinja_env.globals["words"] = words
    return babel
