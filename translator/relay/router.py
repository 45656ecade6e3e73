"""What one legacy message becomes on the target bus.

The router is pure: a delivered message in, the list of messages to
publish out. It decides per ``notification_format`` (Nova's meaning),
never sends a legacy copy back where it was read from, and turns what
cannot be translated into a dead letter that says why.
"""

import collections

import orjson

from translator import envelope
from translator import translate

VERSIONED = 'versioned'
LEGACY = 'legacy'
DEAD_LETTER = 'dead_letter'
#: AMQP headers of a dead letter; the body is the original, byte for byte.
HEADER_PREFIX = 'x-translator-'

#: ``redelivered``: the broker delivered it before, unacknowledged.
Delivery = collections.namedtuple(
    'Delivery', 'tag exchange routing_key body received redelivered',
    defaults=(False,))
Output = collections.namedtuple(
    'Output', 'kind exchange routing_key body headers remember reason')
#: What a delivery became: outputs, the outcome when it was translated
#: (None in 'unversioned' mode), the legacy message's timestamp and how
#: many versioned notifications `watch` held back as unchanged.
Routed = collections.namedtuple('Routed',
                                'outputs outcome timestamp suppressed')


def split_routing_key(routing_key):
    """``notifications.info`` -> (``notifications``, ``info``)."""
    topic, dot, priority = routing_key.rpartition('.')
    return (topic, priority) if dot else (routing_key, 'info')


class ChangeFilter:
    """Last emitted watched values per resource, for rules with `watch`.

    An update counts as emitted once published; it becomes what is known
    once confirmed, and is forgotten if it is not (the source message then
    comes back and is emitted again). Bounded: the least recently seen
    resources are forgotten first, and a forgotten resource's next update
    is emitted (never lost).
    """

    def __init__(self, size):
        self.size = size
        self._seen = collections.OrderedDict()
        self._in_flight = {}

    def check(self, rule, payload):
        """(emit?, memo to pass to remember or forget once settled)."""
        watch = rule.watch
        if not watch or not self.size:
            return True, None
        data = payload[rule.payload.data_key]
        key = (rule.payload.definition.namespace,
               rule.payload.definition.name, data.get(watch['identity']))
        state = orjson.dumps([data.get(f) for f in watch['fields_']],
                             option=orjson.OPT_SORT_KEYS)
        last = self._in_flight.get(key)
        if last is None:
            last = self._seen.get(key)
            if last is not None:
                self._seen.move_to_end(key)
        if last == state:
            return False, None
        self._in_flight[key] = state
        return True, (key, state)

    def remember(self, memo):
        """The update was confirmed."""
        key, state = memo
        self.forget(memo)
        self._seen[key] = state
        self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def forget(self, memo):
        """The update was refused, or is confirmed and now known."""
        key, state = memo
        if self._in_flight.get(key) == state:
            del self._in_flight[key]

    def connection_lost(self):
        self._in_flight.clear()


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
        outcome = legacy = None
        suppressed = 0
        if s.notification_format != 'unversioned':
            outcome, legacy = self._translate(delivery.body)
            if outcome.ok:
                versioned = self._versioned(delivery, outcome, legacy)
                suppressed = len(outcome.notifications) - len(versioned)
                outputs += versioned
            else:
                outputs.append(self._dead_letter(delivery, priority, outcome))
        if s.notification_format != 'versioned' and not (
                s.same_bus and topic == s.legacy_topic):
            outputs.append(Output(
                LEGACY, delivery.exchange, '%s.%s' % (s.legacy_topic,
                                                      priority),
                delivery.body, None, None, None))
        return Routed(outputs, outcome, legacy.timestamp if legacy else None,
                      suppressed)

    def _translate(self, body):
        try:
            legacy = envelope.parse(body)
        except envelope.Malformed as exc:
            return translate.Outcome(translate.MALFORMED, None,
                                     reason=str(exc)), None
        try:
            return self.translator.translate(legacy), legacy
        # A defect of ours must not stop the stream: the message is
        # dead-lettered with the error (``translator translate`` on it
        # shows the traceback), the relay goes on.
        except Exception as exc:  # noqa: BLE001
            return translate.Outcome(
                translate.INVALID, legacy.event_type,
                reason='translation failed: %r' % exc), legacy

    def _versioned(self, delivery, outcome, legacy):
        context = envelope.redact_context(legacy.context())
        outputs = []
        for rule, notification in zip(outcome.rules, outcome.notifications):
            emit, memo = self.changes.check(rule, notification['payload'])
            if not emit:
                continue
            message = dict(notification, _unique_id=notification[
                'message_id'].replace('-', ''))
            outputs.append(Output(
                VERSIONED, delivery.exchange, '%s.%s' % (
                    self.settings.versioned_topic,
                    notification['priority'].lower()),
                envelope.wire_body(message, context), None, memo, None))
        return outputs

    def _dead_letter(self, delivery, priority, outcome):
        headers = {
            HEADER_PREFIX + 'outcome': outcome.kind,
            HEADER_PREFIX + 'reason': outcome.reason,
            HEADER_PREFIX + 'source-exchange': delivery.exchange,
            HEADER_PREFIX + 'source-routing-key': delivery.routing_key,
        }
        if outcome.event_type:
            headers[HEADER_PREFIX + 'event-type'] = outcome.event_type
        return Output(DEAD_LETTER, delivery.exchange, '%s.%s' % (
            self.settings.dead_letter_topic, priority),
            envelope.redacted_body(delivery.body), headers, None,
            outcome.kind)
