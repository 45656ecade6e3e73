"""A compiled mapping set, and what one notification becomes through it,
legacy to versioned or versioned to legacy.

The outcome of a translation is ``translated`` (the notifications of the
other format), ``unmapped`` (no rule matches), ``invalid`` (a rule matched
but the input cannot satisfy it), ``malformed`` (the input is not a
notification) or ``skipped`` (it has no form in the other format, by
design: a versioned event Nova never sent as legacy). ``body_to_versioned``
and ``body_to_legacy`` give an outcome for any bytes and never raise;
``to_versioned`` and ``to_legacy`` take a parsed notification.
"""

import dataclasses
import functools
import re

from translator import envelope
from translator.mapping import compiler
from translator.mapping import plans
from translator.mapping import loader
from translator.mapping import reverse
from translator.mapping import rules

TRANSLATED = 'translated'
UNMAPPED = 'unmapped'
INVALID = 'invalid'
MALFORMED = 'malformed'
SKIPPED = 'skipped'


@dataclasses.dataclass
class Outcome:
    kind: str
    event_type: str | None
    notifications: list = dataclasses.field(default_factory=list)
    reason: str = ''
    rules: list = dataclasses.field(default_factory=list)
    #: the notification translated, parsed; None when it is malformed
    source: envelope.Notification | None = None

    @property
    def ok(self):
        return self.kind == TRANSLATED


_PUBLISHER_RE = re.compile(r'([^.:]*)[.:](.*)', re.S)
_publishers = {}  # publisher id -> (service, host)


def split_publisher(publisher_id):
    """``compute.host1`` or ``nova-compute:host1`` -> (service, host); a
    bus has a few hundred publishers: each is split once."""
    split = _publishers.get(publisher_id)
    if split is None:
        found = _PUBLISHER_RE.match(publisher_id)
        split = found.groups() if found else (publisher_id, publisher_id)
        if len(_publishers) < rules.CACHE_SIZE:
            _publishers[publisher_id] = split
    return split


class Translator:
    """A compiled mapping set, ready to translate."""

    def __init__(self, mapping_set, legacy_options=None):
        """``legacy_options``: what legacy templates read as
        ``{option.<name>}`` (the relay's ``[legacy]`` options)."""
        self.mapping_set = mapping_set
        self.payloads = compiler.compile_payloads(
            mapping_set, lambda: self.registry.classes)
        self.index = rules.RuleIndex(
            [rules.RulePlan(r, self.payloads[(r.spec['namespace'],
                                              r.spec['payload'])])
             for r in mapping_set.rules], mapping_set.untranslated)
        writer = reverse.writers(mapping_set, legacy_options or {})
        self.reverse_index = rules.ReverseIndex(
            [rules.ReverseRule(plan, writer(plan.spec['namespace'],
                                            plan.spec['payload']))
             for plan in self.index.rules if plan.spec['reverse']],
            mapping_set.versioned_only)
        self._targets_cache = {}
        self._versioned_known = {}

    @functools.cached_property
    def registry(self):
        """The payload classes as oslo.versionedobjects classes. Made when
        first asked for: importing oslo.versionedobjects (and with it
        oslo.messaging) is a quarter of the start-up, and translating
        needs no object."""
        from translator import objects
        return objects.build_registry(self.mapping_set)

    def known_event_types(self):
        """Legacy event types the set names exactly (bounded, for labels)."""
        names = set()
        for rule in self.index.rules:
            names |= rule.exact
        for globs, _, _ in self.mapping_set.untranslated:
            names |= {g for g in globs if not rules.is_glob(g)}
        return frozenset(names)

    @classmethod
    def from_directory(cls, path, legacy_options=None):
        return cls(loader.load_mapping_set(path), legacy_options)

    def knows_versioned(self, event_type):
        """Whether a rule reads a versioned event type back, or the set
        says it has no legacy form (bounded, for labels)."""
        known = self._versioned_known.get(event_type)
        if known is None:
            known = bool(self.reverse_index.matches(event_type)
                         or self.reverse_index.why_versioned_only(event_type))
            if len(self._versioned_known) < rules.CACHE_SIZE:
                self._versioned_known[event_type] = known
        return known

    def versioned_event_type(self, legacy_event_type):
        """The versioned event type of the first rule that matches, or
        None."""
        targets = self._targets(legacy_event_type)
        return targets[0][1] if targets else None

    def _targets(self, legacy_event_type):
        """[(rule, versioned event type, context)] for an event type.

        Cached with the rule index: everything here depends on the event
        type alone, so per message only the publisher is left to fill in.
        """
        targets = self._targets_cache.get(legacy_event_type)
        if targets is None:
            targets = []
            for rule, captures in self.index.matches(legacy_event_type):
                event_type = rule.event_type.format_map(captures)
                targets.append((rule, event_type, dict(
                    captures, event_type=event_type,
                    legacy_event_type=legacy_event_type)))
            if len(self._targets_cache) < rules.CACHE_SIZE:
                self._targets_cache[legacy_event_type] = targets
        return targets

    def to_versioned(self, legacy, build=None):
        """The versioned notifications of one legacy Notification.

        ``build(payload_plan, root, ctx)`` makes the payload primitive; the
        default is the compiled hot path, the tests pass the object builder.
        """
        targets = self._targets(legacy.event_type)
        if not targets:
            why = self.index.why_untranslated(legacy.event_type)
            return Outcome(UNMAPPED, legacy.event_type, reason=(
                'event type %r is not translated: %s' % (
                    legacy.event_type, why) if why else
                'no rule matches event type %r' % legacy.event_type),
                source=legacy)
        service, host = split_publisher(legacy.publisher_id)
        out = []
        for rule, event_type, base_ctx in targets:
            ctx = dict(base_ctx, publisher_id=legacy.publisher_id,
                       service=service, host=host,
                       timestamp=legacy.timestamp, message=legacy.message)
            try:
                if build is None:
                    payload = rule.payload.primitive(legacy.payload, ctx)
                else:
                    payload = build(rule.payload, legacy.payload, ctx)
            except plans.FieldError as exc:
                return Outcome(INVALID, legacy.event_type, reason=(
                    '%s: field %s: %s (%s)' % (
                        rule.payload.definition.name, exc.path, exc.reason,
                        rule.where)), rules=[t[0] for t in targets],
                    source=legacy)
            out.append(envelope.versioned(
                legacy, len(out), rule.publisher.format_map(ctx),
                event_type,
                rule.output_priority(event_type, legacy.priority), payload))
        return Outcome(TRANSLATED, legacy.event_type, out,
                       rules=[t[0] for t in targets], source=legacy)

    def to_legacy(self, versioned):
        """The legacy notification of one versioned Notification."""
        event_type = versioned.event_type
        found = self.reverse_index.matches(event_type)
        if not found:
            why = self.reverse_index.why_versioned_only(event_type)
            if why:
                return Outcome(SKIPPED, event_type, reason=(
                    'event type %r has no legacy form: %s' % (
                        event_type, why)), source=versioned)
            return Outcome(UNMAPPED, event_type, reason=(
                'no rule reads event type %r back into a legacy one'
                % event_type), source=versioned)
        name = _class_name(versioned.payload)
        for rule, legacy_event_type in found:
            if rule.payload_name == name:
                break
        else:
            return Outcome(INVALID, event_type, reason=(
                'payload class %r, where %s reads back %s' % (
                    name, found[0][0].where, found[0][0].payload_name)),
                source=versioned)
        data = versioned.payload.get(rule.writer.data_key)
        publisher = rule.legacy_publisher(versioned.publisher_id)
        if not isinstance(data, dict) or publisher is None:
            return Outcome(INVALID, event_type, reason=(
                'no %s in the payload (%s)' % (rule.writer.data_key,
                                               rule.where)
                if publisher else 'publisher %r is not %r (%s)' % (
                    versioned.publisher_id,
                    rule.forward.publisher, rule.where)),
                rules=[rule], source=versioned)
        payload = {}
        try:
            rule.writer.write(data, payload)
        except reverse.ReverseError as exc:
            return Outcome(INVALID, event_type, reason=(
                '%s: field %s: %s (%s)' % (rule.payload_name, exc.path,
                                           exc.reason, rule.where)),
                rules=[rule], source=versioned)
        return Outcome(TRANSLATED, event_type, [{
            'message_id': envelope.derived_id(versioned.message_id, 0),
            'publisher_id': publisher,
            'event_type': legacy_event_type,
            'priority': versioned.priority,
            'payload': payload,
            'timestamp': versioned.timestamp,
        }], rules=[rule], source=versioned)

    def body_to_versioned(self, raw):
        """The outcome of the raw bytes of one legacy message, whatever
        they hold: never an exception."""
        return self._from_body(raw, self.to_versioned)

    def body_to_legacy(self, raw):
        """The outcome of the raw bytes of one versioned message, whatever
        they hold: never an exception."""
        return self._from_body(raw, self.to_legacy)

    @staticmethod
    def _from_body(raw, translate):
        try:
            notification = envelope.parse(raw)
        except envelope.Malformed as exc:
            return Outcome(MALFORMED, None, reason=str(exc))
        try:
            return translate(notification)
        # A defect of ours must not stop a stream: the message gets an
        # outcome that names the error, and the stream goes on.
        except Exception as exc:  # noqa: BLE001
            return Outcome(INVALID, notification.event_type,
                           reason='translation failed: %r' % exc,
                           source=notification)


def _class_name(payload):
    """The name of a serialised payload class (``nova_object.name``)."""
    for key, value in payload.items():
        if key.endswith('_object.name'):
            return value
    return None
