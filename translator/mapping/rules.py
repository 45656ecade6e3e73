"""Which rules a legacy event type matches, and what they make of it."""

import fnmatch
import re

_CAPTURE_RE = re.compile(r'\{(\w+)\}')
_ERROR_SUFFIX = '.error'
#: Distinct event types remembered; beyond it lookups are not cached, so a
#: stream of random event types cannot grow memory.
CACHE_SIZE = 4096


def _pattern_regex(pattern, captures):
    """A match pattern to a regex; ``{name}`` becomes a named group."""
    parts = []
    pos = 0
    for found in _CAPTURE_RE.finditer(pattern):
        parts.append(_glob_regex(pattern[pos:found.start()]))
        name = found.group(1)
        allowed = captures.get(name)
        if allowed:
            alts = sorted(allowed, key=len, reverse=True)
            parts.append('(?P<%s>%s)' % (name, '|'.join(
                re.escape(a) for a in alts)))
        else:
            parts.append('(?P<%s>[^.]+)' % name)
        pos = found.end()
    parts.append(_glob_regex(pattern[pos:]))
    return re.compile('^' + ''.join(parts) + '$')


def _template_regex(template):
    """A publisher template to a regex reading its names back; a name
    takes any text (host names have dots), the first possible split."""
    parts, pos = [], 0
    for found in _CAPTURE_RE.finditer(template):
        parts.append(re.escape(template[pos:found.start()]))
        parts.append('(?P<%s>.+?)' % found.group(1))
        pos = found.end()
    parts.append(re.escape(template[pos:]))
    return re.compile('^' + ''.join(parts) + '$')


def _glob_regex(text):
    out = []
    for char in text:
        if char == '*':
            out.append('.*')
        elif char == '?':
            out.append('.')
        else:
            out.append(re.escape(char))
    return ''.join(out)


def glob_matcher(globs):
    """One match function for fnmatch globs (exclusions, conditions,
    untranslated lists): one regex, however many globs."""
    return re.compile('|'.join(fnmatch.translate(g) for g in globs)).match


def is_glob(text):
    return any(c in text for c in '*?[')


def _is_exact(pattern):
    return not any(c in pattern for c in '*?{')


class RulePlan:
    """One rule of a mapping file, compiled."""

    def __init__(self, ruledef, payload_plan):
        spec = ruledef.spec
        self.spec = spec
        self.where = '%s rule %d' % (ruledef.file, ruledef.index)
        self.payload = payload_plan
        captures = spec.get('captures', {})
        self._renames = {name: allowed for name, allowed in captures.items()
                         if isinstance(allowed, dict)}
        self.exact = frozenset(p for p in spec['match'] if _is_exact(p))
        self._regexes = [_pattern_regex(p, captures) for p in spec['match']
                         if not _is_exact(p)]
        exclude = spec.get('exclude')
        self._excluded = glob_matcher(exclude) if exclude else None
        self.event_type = spec['event_type']
        self.publisher = spec['publisher']
        self.priority = spec.get('priority')
        self.keeps_matching = spec['continue_']
        self.watch = spec.get('watch')

    def captures(self, legacy_event_type):
        """Captured parts of the name, renamed; None if it does not match."""
        if self._excluded is not None and self._excluded(legacy_event_type):
            return None
        if legacy_event_type in self.exact:
            return {}
        for regex in self._regexes:
            found = regex.match(legacy_event_type)
            if found:
                caught = found.groupdict()
                for name, renames in self._renames.items():
                    caught[name] = renames.get(caught[name], caught[name])
                return caught
        return None

    def output_priority(self, versioned_event_type, legacy_priority):
        if self.priority:
            return self.priority
        if versioned_event_type.endswith(_ERROR_SUFFIX):
            return 'ERROR'
        return legacy_priority


class RuleIndex:
    """All rules of a set; exact names win, then the first glob in order."""

    def __init__(self, rule_plans, untranslated=()):
        self.rules = list(rule_plans)
        self._untranslated = [(glob_matcher(globs), reason)
                              for globs, reason, _ in untranslated]
        self._cache = {}

    def why_untranslated(self, legacy_event_type):
        """The documented reason an event type has no rule, if any."""
        for matches, reason in self._untranslated:
            if matches(legacy_event_type):
                return reason
        return None

    def matches(self, legacy_event_type):
        """[(rule, captures)] for an event type: usually one, or none."""
        cached = self._cache.get(legacy_event_type)
        if cached is not None:
            return cached
        found = []
        exact = [r for r in self.rules if legacy_event_type in r.exact]
        globbed = [r for r in self.rules if legacy_event_type not in r.exact]
        for rule in exact + globbed:
            caught = rule.captures(legacy_event_type)
            if caught is None:
                continue
            found.append((rule, caught))
            if not rule.keeps_matching:
                break
        if len(self._cache) < CACHE_SIZE:
            self._cache[legacy_event_type] = found
        return found


class ReverseRule:
    """One rule read backwards: a versioned event type and publisher in,
    the legacy ones out."""

    def __init__(self, rule_plan, writer):
        spec = rule_plan.spec
        self.forward = rule_plan
        self.writer = writer
        self.payload_name = spec['payload']
        self.where = rule_plan.where
        captures = spec.get('captures', {})
        # a capture's versioned values, and the legacy value of each
        self._legacy_values = {
            name: ({v: k for k, v in allowed.items()}
                   if isinstance(allowed, dict) else {v: v for v in allowed})
            for name, allowed in captures.items()}
        outputs = {name: list(values)
                   for name, values in self._legacy_values.items()}
        self._event = _pattern_regex(spec['event_type'], outputs)
        self._legacy_event = spec['match'][0]
        self._publisher = _template_regex(spec['publisher'])
        publisher_names = set(_CAPTURE_RE.findall(spec['publisher']))
        self._legacy_publisher = spec.get('legacy_publisher') or (
            '{publisher_id}' if publisher_names == {'publisher_id'}
            else '{service}.{host}')

    def legacy_event_type(self, versioned_event_type):
        """The legacy event type, or None if the rule does not read this
        one back."""
        found = self._event.match(versioned_event_type)
        if found is None:
            return None
        names = {name: self._legacy_values.get(name, {}).get(value, value)
                 for name, value in found.groupdict().items()}
        return self._legacy_event.format_map(names)

    def legacy_publisher(self, versioned_publisher):
        """The legacy publisher, or None if the versioned one does not fit
        the rule's publisher template."""
        found = self._publisher.match(versioned_publisher)
        if found is None:
            return None
        return self._legacy_publisher.format_map(found.groupdict())


class ReverseIndex:
    """The rules read backwards, in order, and the versioned event types
    that have no legacy form."""

    def __init__(self, reverse_rules, versioned_only=()):
        self.rules = list(reverse_rules)
        self._versioned_only = [(glob_matcher(globs), reason)
                                for globs, reason, _ in versioned_only]
        self._cache = {}

    def why_versioned_only(self, versioned_event_type):
        for matches, reason in self._versioned_only:
            if matches(versioned_event_type):
                return reason
        return None

    def matches(self, versioned_event_type):
        """[(reverse rule, legacy event type)] that read it back."""
        found = self._cache.get(versioned_event_type)
        if found is None:
            found = []
            for rule in self.rules:
                legacy = rule.legacy_event_type(versioned_event_type)
                if legacy is not None:
                    found.append((rule, legacy))
            if len(self._cache) < CACHE_SIZE:
                self._cache[versioned_event_type] = found
        return found
