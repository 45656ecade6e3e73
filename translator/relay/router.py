"""What one delivered message becomes on the target bus.

``Router.route`` decides per ``notification_format`` (Nova's meaning):
the versioned notifications of a legacy message, its legacy copy (never
back where it was read from) and, for what cannot be translated, a dead
letter that says why. The only state it consults is the change-only
filter's, which it is given.
"""

import collections

from translator import envelope
from translator import secrets
from translator.relay import dead_letter
from translator.transports import base

#: What a delivery became: outputs, the outcome when it was translated
#: (None in 'unversioned' mode), the legacy message's timestamp and how
#: many versioned notifications `watch` held back as unchanged.
Routed = collections.namedtuple('Routed',
                                'outputs outcome timestamp suppressed')


def split_routing_key(routing_key):
    """``notifications.info`` -> (``notifications``, ``info``)."""
    topic, dot, priority = routing_key.rpartition('.')
    return (topic, priority) if dot else (routing_key, 'info')


class Router:
    def __init__(self, settings, translator, changes):
        self.settings = settings
        self.translator = translator
        self.changes = changes

    def route(self, delivery):
        """What one delivery becomes: a Routed.

        Never raises on input: whatever the body is, it ends up in an output
        or, by design, nowhere only when its copy is already in place.
        """
        s = self.settings
        topic, priority = split_routing_key(delivery.routing_key)
        outputs = []
        outcome = None
        suppressed = 0
        if s.notification_format != 'unversioned':
            outcome = self.translator.body_to_versioned(delivery.body)
            if outcome.ok:
                versioned = self._versioned(delivery, outcome)
                suppressed = len(outcome.notifications) - len(versioned)
                outputs += versioned
            else:
                outputs.append(dead_letter.make(
                    delivery, outcome, s.dead_letter_topic, priority))
        if s.notification_format != 'versioned' and not (
                s.same_bus and topic == s.legacy_topic):
            outputs.append(base.Output(
                base.LEGACY, delivery.exchange, '%s.%s' % (s.legacy_topic,
                                                           priority),
                delivery.body, None, None, None))
        source = outcome.source if outcome is not None else None
        return Routed(outputs, outcome,
                      source.timestamp if source is not None else None,
                      suppressed)

    def _versioned(self, delivery, outcome):
        context = secrets.redact_context(outcome.source.context())
        outputs = []
        for rule, notification in zip(outcome.rules, outcome.notifications):
            emit, memo = self.changes.check(rule, notification['payload'])
            if not emit:
                continue
            message = dict(notification, _unique_id=notification[
                'message_id'].replace('-', ''))
            outputs.append(base.Output(
                base.VERSIONED, delivery.exchange, '%s.%s' % (
                    self.settings.versioned_topic,
                    notification['priority'].lower()),
                envelope.wire_body(message, context), None, memo, None))
        return outputs
