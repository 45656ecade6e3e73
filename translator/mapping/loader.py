"""Read a mapping set from disk and check it whole.

A set is every ``*.yaml`` below a directory (``mappings/<service>/*.yaml``).
Each file is validated against the language spec; then the set is checked
as a whole (class references, versions, captures). One error anywhere
refuses the whole set, so a half-loaded set never translates anything.
"""

import dataclasses
import functools
import os
import pathlib
import re
import string

import yaml
from marshmallow import ValidationError

from translator.mapping import reverse
from translator.mapping import spec


@dataclasses.dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: tuple
    message: str

    def __str__(self):
        where = self.file if self.line is None else '%s:%d' % (self.file,
                                                               self.line)
        keys = '.'.join(str(k) for k in self.path)
        return '%s: %s%s' % (where, keys + ': ' if keys else '', self.message)


class MappingError(Exception):
    """A mapping set that cannot be used; ``problems`` says every reason."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__('\n'.join(str(p) for p in self.problems))


@dataclasses.dataclass
class PayloadDef:
    name: str
    namespace: str
    version: str
    history: dict
    fields: dict  # field name -> validated field spec, `extends` resolved
    file: str
    doc: str = ''
    #: versioned to legacy, `extends` resolved: legacy key -> computed value
    legacy: dict = dataclasses.field(default_factory=dict)
    #: legacy key -> why the versioned payload does not carry it
    not_carried: dict = dataclasses.field(default_factory=dict)
    #: the class it extends, and the fields it declares itself
    extends: str | None = None
    own_fields: frozenset = frozenset()

    @property
    def first_version(self):
        return min(self.history, key=spec.version_key)


@dataclasses.dataclass
class RuleDef:
    spec: dict
    file: str
    index: int


@dataclasses.dataclass
class MappingSet:
    root: str
    files: list
    payloads: dict  # (namespace, name) -> PayloadDef
    rules: list
    untranslated: list  # (globs, reason, file)
    versioned_only: list = dataclasses.field(default_factory=list)

    def payload(self, namespace, name):
        return self.payloads[(namespace, name)]


def _marshmallow_paths(messages, prefix=()):
    """Flatten marshmallow's nested error dict into (key path, message)."""
    if isinstance(messages, dict):
        for key, sub in messages.items():
            # Dict fields nest errors under 'key'/'value'; they are noise.
            step = () if key in ('value', '_schema') else (key,)
            if key == 'key':
                sub = ['bad key: %s' % m for m in sub]
                step = ()
            yield from _marshmallow_paths(sub, prefix + step)
    elif isinstance(messages, list) and messages and all(
            isinstance(m, str) for m in messages):
        yield prefix, ' '.join(messages)
    elif isinstance(messages, list):
        for i, sub in enumerate(messages):
            yield from _marshmallow_paths(sub, prefix + (i,))
    else:
        yield prefix, str(messages)


def _data_key(name):
    # Python-side names that clash with keywords carry a trailing '_'.
    return {'class_': 'class', 'fields_': 'fields',
            'continue_': 'continue'}.get(name, name)


def _line_of(node, path):
    """Line (1-based) of the deepest node of ``path`` that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if k.value == str(key)]
            if not found:
                break
            keynode = [k for k, v in node.value if k.value == str(key)][0]
            node = found[0]
            line = keynode.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


#: libyaml's safe loader where PyYAML was built with it: the pure Python
#: one takes most of a mapping set's loading time.
_Loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def _display(path):
    """The path as the operator most likely wrote it."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith('..') else relative


def _prefixed(where, prefix, keypath, message):
    where(prefix + keypath, message)


class _FileChecker:
    def __init__(self, path, display, problems):
        self.display = display
        self.path = path
        self.problems = problems
        self.text = ''
        self._tree = None

    def problem(self, path, message, line=None):
        if line is None:
            line = _line_of(self.tree(), path)
        self.problems.append(Problem(self.display, line, tuple(path),
                                     message))

    def tree(self):
        if self._tree is None:
            self._tree = yaml.compose(self.text, Loader=yaml.SafeLoader)
        return self._tree

    def load(self):
        try:
            self.text = pathlib.Path(self.path).read_text(encoding='utf-8')
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(self.display, None, (),
                                         'cannot read: %s' % exc))
            return None
        try:
            raw = yaml.load(self.text, Loader=_Loader)
        except yaml.YAMLError:
            # Read again by the pure Python loader: it says what is wrong
            # in the same words wherever PyYAML was built with or without
            # libyaml.
            try:
                raw = yaml.load(self.text, Loader=yaml.SafeLoader)
            except yaml.YAMLError as exc:
                mark = getattr(exc, 'problem_mark', None)
                self.problems.append(Problem(
                    self.display, mark.line + 1 if mark else None, (),
                    'YAML syntax error: %s' % getattr(exc, 'problem', exc)))
                return None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            self.problem((), 'a mapping file is a YAML mapping', line=1)
            return None
        try:
            return spec.MappingFileSchema().load(raw)
        except ValidationError as exc:
            for path, message in _marshmallow_paths(exc.messages):
                self.problem(path, message)
            return None


def _resolve_extends(payloads):
    """Merge each class's inherited fields in, parents first."""
    resolved = {}

    def resolve(key, chain):
        if key in resolved:
            return resolved[key]
        pdef, raw, where = payloads[key]
        fields = {}
        legacy, not_carried = {}, {}
        parent = raw.get('extends')
        if parent is not None:
            pkey = (key[0], parent)
            if pkey not in payloads:
                where(('extends',), 'unknown payload class %r in namespace '
                      '%r' % (parent, key[0]))
            elif pkey in chain:
                where(('extends',), 'circular extends: %s' % ' -> '.join(
                    n for _, n in chain + (pkey,)))
            else:
                inherited = resolve(pkey, chain + (pkey,))
                fields.update(inherited.fields)
                legacy.update(inherited.legacy)
                not_carried.update(inherited.not_carried)
        fields.update(raw['fields_'])
        legacy.update(raw.get('legacy', {}))
        not_carried.update(raw.get('not_carried', {}))
        pdef.fields, pdef.legacy, pdef.not_carried = (fields, legacy,
                                                      not_carried)
        pdef.extends, pdef.own_fields = parent, frozenset(raw['fields_'])
        resolved[key] = pdef
        return pdef

    for key in payloads:
        resolve(key, (key,))


def _template_names(template):
    """The placeholders of a template ('' for ``{}``); ValueError if the
    braces do not pair."""
    return {name for _, name, _, _ in string.Formatter().parse(template)
            if name is not None}


def _check_payload(pdef, payloads, where):
    for fname, fspec in pdef.fields.items():
        loc = ('payloads', pdef.name, 'fields', fname)
        cls = fspec.get('class_')
        if cls is not None and (pdef.namespace, cls) not in payloads:
            where(loc + ('class',), 'unknown payload class %r in namespace '
                  '%r' % (cls, pdef.namespace))
        since = fspec.get('since')
        if since and spec.version_key(since) > spec.version_key(pdef.version):
            where(loc + ('since',), 'version %s is newer than the class '
                  'version %s' % (since, pdef.version))
        if since and since not in pdef.history:
            where(loc + ('since',), 'version %s is not in the history'
                  % since)
    newest = max(pdef.history, key=spec.version_key)
    if newest != pdef.version:
        where(('payloads', pdef.name, 'history'), 'history names %s, newer '
              'than the class version %s' % (newest, pdef.version))


#: Names the translator puts beside the captures; a capture may not take one.
RESERVED_NAMES = frozenset(s[1:] for s in spec.ENVELOPE_SOURCES) | {
    'service', 'host', 'publisher_id', 'context', 'message'}


def _check_rule(rule, index, namespaces, payloads, where, reported):
    loc = ('rules', index)
    captures = set()
    for pattern in rule['match']:
        captures |= set(re.findall(r'\{(\w+)\}', pattern))
    for name in captures & RESERVED_NAMES:
        where(loc + ('match',), 'capture name {%s} is reserved' % name)
    for name in rule.get('captures', {}):
        if name not in captures:
            where(loc + ('captures', name), 'no {%s} in match' % name)
    known = captures | {'publisher_id', 'service', 'host'}
    for key in ('event_type', 'publisher'):
        try:
            names = _template_names(rule[key])
        except ValueError as exc:
            where(loc + (key,), 'not a template: %s' % exc)
            continue
        for name in sorted(names - known):
            where(loc + (key,), 'unknown placeholder {%s}' % name)
    matches = [ns for ns in namespaces if (ns, rule['payload']) in payloads]
    if not matches:
        where(loc + ('payload',), 'unknown payload class %r'
              % rule['payload'])
        return
    if rule['reverse']:
        _check_reverse(rule, loc, captures, payloads[(matches[0],
                                                      rule['payload'])],
                       payloads, where, reported)
    watch = rule.get('watch')
    if watch:
        pdef = payloads[(matches[0], rule['payload'])]
        for fname in [watch['identity']] + watch['fields_']:
            if fname not in pdef.fields:
                where(loc + ('watch',), '%r is not a field of %s'
                      % (fname, rule['payload']))


def _check_reverse(rule, loc, captures, pdef, payloads, where, reported):
    """A rule read backwards needs an event type and a publisher that can
    be read back, and a payload class whose every field can: what a class
    lacks goes into ``reported`` as ((namespace, class), field, why), once
    however many rules read it back."""
    patterns = rule['match']
    if len(patterns) != 1 or any(c in patterns[0] for c in '*?['):
        where(loc + ('reverse',), 'a rule read backwards needs one match '
              'pattern without globs')
    missing = captures - _template_names(rule['event_type'])
    if missing:
        where(loc + ('reverse',), 'the event type does not name {%s}: the '
              'legacy one cannot be read back' % '}, {'.join(sorted(missing)))
    published = _template_names(rule['publisher'])
    if 'legacy_publisher' in rule:
        try:
            unknown = (_template_names(rule['legacy_publisher'])
                       - published)
        except ValueError as exc:
            where(loc + ('legacy_publisher',), 'not a template: %s' % exc)
            unknown = set()
        for name in sorted(unknown):
            where(loc + ('legacy_publisher',), '{%s} is not read from the '
                  'versioned publisher %r' % (name, rule['publisher']))
    elif not {'service', 'host'} <= published and published != {
            'publisher_id'}:
        where(loc + ('legacy_publisher',), 'needed: the publisher %r names '
              'no {service} and {host} to read back' % rule['publisher'])
    for name, why in reverse.problems(
            pdef, lambda nested: payloads[(pdef.namespace, nested)]):
        owner, field = _declaring(name, pdef, payloads)
        reported.add(((owner.namespace, owner.name), field, why))


def _declaring(name, pdef, payloads):
    """(class, path below it) of the class that declares a field, dotted
    through nested classes; (pdef, None) for the class itself."""
    if name is None:
        return pdef, None
    head, _, rest = name.partition('.')
    while pdef.extends and head not in pdef.own_fields:
        pdef = payloads[(pdef.namespace, pdef.extends)]
    if rest:
        return _declaring(rest, payloads[(pdef.namespace,
                                          pdef.fields[head]['class_'])],
                          payloads)
    return pdef, head


def load_mapping_set(root):
    """Load and check every mapping file below ``root``.

    Raises MappingError naming every problem; returns a MappingSet.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise MappingError([Problem(str(root), None, (),
                                    'no such mapping directory')])
    files = sorted(p for p in root.rglob('*.yaml') if p.is_file())
    problems = []
    payloads = {}  # key -> (PayloadDef, raw spec, problem factory)
    loaded = []
    for path in files:
        display = _display(path)
        checker = _FileChecker(path, display, problems)
        data = checker.load()
        if data is None:
            continue
        rel = path.relative_to(root)
        default_ns = data.get('namespace') or (
            rel.parts[0] if len(rel.parts) > 1 else root.name)

        where = checker.problem
        for name, raw in data['payloads'].items():
            ns = raw.get('namespace', default_ns)
            key = (ns, name)
            if key in payloads:
                where(('payloads', name), 'payload class %s.%s is already '
                      'declared in %s' % (ns, name, payloads[key][0].file))
                continue
            pdef = PayloadDef(name, ns, raw['version'], raw['history'], {},
                              display, raw.get('doc', ''))
            payloads[key] = (pdef, raw, functools.partial(
                _prefixed, where, ('payloads', name)))
        loaded.append((display, data, default_ns, where))
    _resolve_extends(payloads)
    defs = {key: value[0] for key, value in payloads.items()}
    reported = set()
    namespaces = sorted({ns for ns, _ in defs})
    rules = []
    untranslated = []
    versioned_only = []
    for display, data, default_ns, where in loaded:
        untranslated += [(u['match'], u['reason'], display)
                         for u in data['untranslated']]
        versioned_only += [(u['match'], u['reason'], display)
                           for u in data['versioned_only']]
        for pdef in (p for p in defs.values() if p.file == display):
            _check_payload(pdef, defs, where)
        for index, rule in enumerate(data['rules']):
            # A rule names a class of its own file's namespace first.
            order = [default_ns] + [n for n in namespaces if n != default_ns]
            _check_rule(rule, index, order, defs, where, reported)
            rules.append(RuleDef(dict(rule, namespace=next(
                (n for n in order if (n, rule['payload']) in defs),
                default_ns)), display, index))
    for owner, field, why in sorted(reported,
                                    key=lambda r: (r[0], r[1] or '', r[2])):
        payloads[owner][2](
            ('fields', field, 'legacy') if field else ('legacy',),
            'read back (a rule with reverse): %s' % why)
    if not files:
        problems.append(Problem(str(root), None, (), 'no *.yaml mapping '
                                'files found'))
    if problems:
        raise MappingError(problems)
    return MappingSet(str(root), [str(f) for f in files], defs, rules,
                      untranslated, versioned_only)
