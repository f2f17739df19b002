"""The channels a ``notify`` service task can reach people by: e-mail now, others (SMS, a pager) later.

A channel turns one notification of a step (template, recipients) into outbox rows in the step's own
transaction, so a step that rolls back sends nothing. Adding a channel (e.g. ``sms`` through a gateway) is one
class with ``queue`` and one entry in ``CHANNELS``; the BPMN names it with the parameter ``channel``
(default ``email``), and the model need not change otherwise. A name no channel has fails the step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from processes.notify import outbox

DEFAULT_CHANNEL = "email"


@dataclass(frozen=True)
class Notice:
    """One notification a step asks for: whom, with which template, about what."""

    template: str
    unit: str | None
    recipient_user: str | None = None
    recipient_group: str | None = None
    recipient_address: str | None = None


class Channel(Protocol):
    """A way to reach people: writes what is to be sent in the caller's transaction; returns how many."""

    def queue(self, session: Session, notice: Notice, *, case_id: str | None, context: Mapping[str, Any],
              now: dt.datetime, texts: Mapping[str, str] | None) -> int: ...


class EmailChannel:
    """E-mail through the outbox (``outbox.queue``), delivered by the worker's mailer."""

    def queue(self, session: Session, notice: Notice, *, case_id: str | None, context: Mapping[str, Any],
              now: dt.datetime, texts: Mapping[str, str] | None) -> int:
        return outbox.queue(
            session, case_id=case_id, unit=notice.unit, template=notice.template,
            recipient_user=notice.recipient_user, recipient_group=notice.recipient_group,
            recipient_address=notice.recipient_address, context=context, now=now, texts=texts,
        )


CHANNELS: dict[str, Channel] = {DEFAULT_CHANNEL: EmailChannel()}


class UnknownChannel(ValueError):
    """A ``notify`` task names a channel that is not in ``CHANNELS``."""


def channel(name: str | None) -> Channel:
    """The channel called ``name`` (``email`` when None or empty); UnknownChannel otherwise."""
    found = CHANNELS.get(name or DEFAULT_CHANNEL)
    if found is None:
        raise UnknownChannel(f"no notification channel {name!r}: one of {', '.join(sorted(CHANNELS))}")
    return found
