"""What one delivered message becomes on the target bus.

``Router.route`` decides per ``notification_format`` (Nova's meaning), for
legacy notifications (the ``[source] topics``) and services' own
versioned ones (``versioned_topics``) alike: each event reaches the target
once in each format asked for. What the service sent in a format is passed
on (copied, unless the target already holds it there: the same bus and
topic); what it did not send is made, by translation; what cannot be
translated becomes a dead letter that says why. Whether the service sent
the other format too is the switchboard's to tell (``twins``): a legacy
notification may be held for its versioned twin, and is then decided when
the twin comes or the wait ends (``expired``). The relay's own outputs,
read back from the source, are passed over.

The router keeps the switchboard's and the change-only filter's state, and
nothing else.
"""

import collections

from translator import envelope
from translator import secrets
from translator import translation
from translator.relay import dead_letter
from translator.relay import twins as twins_module
from translator.transports import base

#: What a delivery became: outputs to publish now; the outcome when it was
#: translated (else None); the input's timestamp; how many versioned
#: notifications `watch` held back as unchanged; ``held``: it waits for
#: its twin (the loop acknowledges it only once decided); ``released``: the
#: Held legacy notification it is the twin of; ``duplicate``: the format of
#: which the target now has a second copy (the relay made it before the
#: service's came); ``input_format``: the delivery's format (LEGACY or
#: VERSIONED) and ``event_type`` its event type, when it could be read;
#: ``own``: a translator's output, passed over.
Routed = collections.namedtuple(
    'Routed', 'outputs outcome timestamp suppressed input_format event_type '
    'held released duplicate own', defaults=(False, None, None, False))

_OWN = Routed([], None, None, 0, None, None, own=True)


def split_routing_key(routing_key):
    """``notifications.info`` -> (``notifications``, ``info``)."""
    topic, dot, priority = routing_key.rpartition('.')
    return (topic, priority) if dot else (routing_key, 'info')


def holds_unknown(settings):
    """Whether a legacy notification from a host not seen yet waits for
    a twin: where the target already has services' versioned ones."""
    return settings.same_bus and (
        settings.versioned_topic in settings.versioned_topics)


def _twin_key(notification, event_type):
    """What a notification and its twin have alike: the host of the
    publisher, the request id, the versioned event type."""
    return (translation.split_publisher(notification.publisher_id)[1],
            notification.message.get('_context_request_id'), event_type)


class Router:
    def __init__(self, settings, translator, changes, twins=None,
                 replaying=False):
        """``replaying``: dead letters, made again: nothing is copied and
        nothing waits for a twin (both were decided the first time)."""
        self.settings = settings
        self.translator = translator
        self.changes = changes
        self.twins = twins or twins_module.Twins(
            settings.twin_wait, holds_unknown(settings))
        self._replaying = replaying
        # Twins can be told apart only where services' versioned
        # notifications are read.
        self._pairs = bool(settings.versioned_topics) and not replaying

    def route(self, delivery):
        """What one delivery becomes: a Routed.

        Never raises on input: whatever the body is, it ends up in an output
        or, by design, nowhere only when its copy is already in place.
        """
        if delivery.own:
            return _OWN
        topic, priority = split_routing_key(delivery.routing_key)
        if topic in self.settings.versioned_topics:
            return self._from_versioned(delivery, topic, priority)
        return self._from_legacy(delivery, topic, priority)

    def expired(self):
        """[(Held, its outputs, how many `watch` held back)] of the legacy
        notifications whose twin did not come in time: the relay makes the
        versioned ones now."""
        return [(held, *held.make()) for held in self.twins.expired()]

    def connection_lost(self):
        self.changes.connection_lost()
        self.twins.connection_lost()

    # -- legacy in ----------------------------------------------------------

    def _copy(self, delivery, topic, priority, fmt):
        """The service's message, where consumers of its format read, or
        [] when it is there already."""
        s = self.settings
        place = s.legacy_topic if fmt == base.LEGACY else s.versioned_topic
        if self._replaying or (s.same_bus and topic == place):
            return []
        return [base.Output(fmt, fmt, delivery.exchange,
                            '%s.%s' % (place, priority), delivery.body,
                            None, None, None)]

    def _passed_on(self, delivery, topic, priority, fmt, verdict):
        """(outputs, duplicate) of the service's message in its format
        ``fmt``: its copy where the format is asked for, unless the relay
        made one of this event already (its twin came first, LATE): then
        no copy, and where the target has it already, a duplicate."""
        if fmt == base.LEGACY and not self.settings.wants_legacy or (
                fmt == base.VERSIONED and not self.settings.wants_versioned):
            return [], None
        copy = self._copy(delivery, topic, priority, fmt)
        if verdict != twins_module.LATE:
            return copy, None
        return [], None if copy else fmt

    def _from_legacy(self, delivery, topic, priority):
        s = self.settings
        make = s.wants_versioned
        outcome = legacy = None
        if make:
            outcome = self.translator.body_to_versioned(delivery.body)
            legacy = outcome.source
        elif self._pairs and s.wants_legacy:
            legacy = _parsed(delivery.body)
        timestamp, event_type = ((legacy.timestamp, legacy.event_type)
                                 if legacy is not None else (None, None))
        verdict = None
        if self._pairs and legacy is not None:
            twin_type = self.translator.versioned_event_type(event_type)
            if twin_type is not None:
                key = _twin_key(legacy, twin_type)
                verdict = self.twins.legacy(key, key[0], make and (
                    outcome.ok or outcome.kind == translation.INVALID))
        outputs, duplicate = self._passed_on(delivery, topic, priority,
                                             base.LEGACY, verdict)
        if not make or verdict in (twins_module.TWIN, twins_module.LATE):
            return Routed(outputs, outcome, timestamp, 0, base.LEGACY,
                          event_type, duplicate=duplicate)

        def versioned():
            """(outputs, how many `watch` held back)"""
            if not outcome.ok:
                return [dead_letter.make(delivery, base.LEGACY, outcome,
                                         s.dead_letter_topic, priority)], 0
            made = self._versioned(delivery, outcome)
            return made, len(outcome.notifications) - len(made)
        if verdict == twins_module.HOLD:
            self.twins.hold(key, delivery.tag, versioned)
            return Routed(outputs, outcome, timestamp, 0, base.LEGACY,
                          event_type, held=True)
        made, suppressed = versioned()
        return Routed(outputs + made, outcome, timestamp, suppressed,
                      base.LEGACY, event_type)

    def _versioned(self, delivery, outcome):
        context = secrets.redact_context(outcome.source.context())
        outputs = []
        for rule, notification in zip(outcome.rules, outcome.notifications):
            emit, memo = self.changes.check(rule, notification['payload'])
            if not emit:
                continue
            outputs.append(base.Output(
                base.VERSIONED, base.LEGACY, delivery.exchange, '%s.%s' % (
                    self.settings.versioned_topic,
                    notification['priority'].lower()),
                _wire(notification, context), None, memo, None))
        return outputs

    # -- versioned in -------------------------------------------------------

    def _from_versioned(self, delivery, topic, priority):
        s = self.settings
        make = s.wants_legacy
        outcome = None
        if make:
            outcome = self.translator.body_to_legacy(delivery.body)
            versioned = outcome.source
        else:
            versioned = _parsed(delivery.body)
        verdict, released = twins_module.ALONE, None
        if self._pairs and versioned is not None:
            key = _twin_key(versioned, versioned.event_type)
            verdict, released = self.twins.versioned(
                key, key[0], make and outcome.kind != translation.SKIPPED)
        outputs, duplicate = self._passed_on(delivery, topic, priority,
                                             base.VERSIONED, verdict)
        timestamp, event_type = ((versioned.timestamp, versioned.event_type)
                                 if versioned is not None else (None, None))
        if not make or verdict != twins_module.ALONE:
            return Routed(outputs, outcome, timestamp, 0, base.VERSIONED,
                          event_type, released=released, duplicate=duplicate)
        if outcome.ok:
            context = secrets.redact_context(versioned.context())
            outputs += [base.Output(
                base.LEGACY, base.VERSIONED, delivery.exchange, '%s.%s' % (
                    s.legacy_topic, notification['priority'].lower()),
                _wire(notification, context), None, None, None)
                for notification in outcome.notifications]
        elif outcome.kind != translation.SKIPPED:
            outputs.append(dead_letter.make(delivery, base.VERSIONED, outcome,
                                            s.dead_letter_topic, priority))
        return Routed(outputs, outcome, timestamp, 0, base.VERSIONED,
                      event_type)


def _parsed(body):
    try:
        return envelope.parse(body)
    except envelope.Malformed:
        return None


def _wire(notification, context):
    """The messagingv2 body of a notification the relay made, with the
    ``_unique_id`` oslo.messaging listeners drop duplicates by."""
    return envelope.wire_body(dict(notification, _unique_id=notification[
        'message_id'].replace('-', '')), context)
