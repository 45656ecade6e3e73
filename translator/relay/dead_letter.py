"""What a dead letter is: the one definition the router writes, the
dead-letter commands read and the contracts describe.

A dead letter is the message the relay could not translate, its body as it
came except for the request-context secrets (masked, ``secrets``), with
headers that say why and where it came from. It is published on
``<dead_letter_topic>.<priority>`` of the exchange it came from, into the
target's dead-letter store.
"""

import dataclasses
import time

from translator import secrets
from translator import translation
from translator.transports import base

PREFIX = 'x-translator-'
#: Header names after PREFIX, with what each holds.
HEADERS = {
    'outcome': 'Why it is here: not a notification (malformed), no rule '
               'for its event type (unmapped), or not fitting its rule '
               '(invalid).',
    'reason': 'What and where, e.g. "InstancePayload: field uuid: not a '
              'UUID: \'x\' (mappings/nova/...)".',
    'event-type': 'The legacy event type; absent when malformed.',
    'source-exchange': 'The exchange it was read from.',
    'source-routing-key': 'The routing key it was read with.',
}
#: Headers a dead letter may lack; every other is on each one.
OPTIONAL = ('event-type',)
#: The outcomes a dead letter can have.
OUTCOMES = (translation.MALFORMED, translation.UNMAPPED, translation.INVALID)


def make(delivery, origin, outcome, topic, priority):
    """The dead letter of a delivery whose translation failed: an Output;
    ``origin``: the delivery's format."""
    headers = {
        PREFIX + 'outcome': outcome.kind,
        PREFIX + 'reason': outcome.reason,
        PREFIX + 'source-exchange': delivery.exchange,
        PREFIX + 'source-routing-key': delivery.routing_key,
    }
    if outcome.event_type:
        headers[PREFIX + 'event-type'] = outcome.event_type
    return base.Output(base.DEAD_LETTER, origin, delivery.exchange,
                       '%s.%s' % (topic, priority),
                       secrets.redacted_body(delivery.body), headers, None,
                       outcome.kind)


@dataclasses.dataclass(frozen=True)
class Letter:
    """A dead letter read back from the store, by its headers; a message
    some other producer put there lacks them (None, or the place it was
    read from)."""

    outcome: str | None
    reason: str | None
    event_type: str | None
    exchange: str
    routing_key: str

    @classmethod
    def read(cls, delivery):
        headers = delivery.headers or {}
        return cls(headers.get(PREFIX + 'outcome'),
                   headers.get(PREFIX + 'reason'),
                   headers.get(PREFIX + 'event-type'),
                   headers.get(PREFIX + 'source-exchange', delivery.exchange),
                   headers.get(PREFIX + 'source-routing-key',
                               delivery.routing_key))


def as_delivered(delivery):
    """The delivery a dead letter was made of: its body, from the exchange
    and with the routing key it first came with, so that translating it
    again gives what the first translation would have given."""
    letter = Letter.read(delivery)
    return base.Delivery(delivery.tag, letter.exchange, letter.routing_key,
                         delivery.body, time.monotonic(),
                         delivery.redelivered)
