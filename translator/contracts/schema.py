"""JSON Schemas (draft 2020-12) of the versioned notifications.

One schema per payload class version that a rule emits, made from the
loaded mapping set alone: the notification as ``translator translate``
writes it, which is also the inner message of the relay's messagingv2 body
(``oslo.message``), where ``_unique_id`` and the request context's
``_context_*`` keys travel beside it. Classes nested in a payload are in
the schema's ``$defs``, keyed ``<namespace>.<name>``.

A field's schema says what the translator writes, which is not always the
oslo.versionedobjects field's own: null only where a null can come out (a
default fills the others), required unless a condition (``when``,
``present_if``) can leave it out, datetimes in the one form they take.
"""

import json
import pathlib
import re
import string

from translator import docs
from translator.contracts import asyncapi
from translator.mapping import spec, values

DIALECT = 'https://json-schema.org/draft/2020-12/schema'
#: Every versioned notification has these keys (``envelope.versioned``).
ENVELOPE_KEYS = ('message_id', 'publisher_id', 'event_type', 'priority',
                 'payload', 'timestamp')
_PRIORITIES = next(check.choices for check in spec.RuleSchema().fields[
    'priority'].validators)

# JSON has no integers past 64 bits, nor does the translator (values._int).
_INT_BOUND = 2 ** 63
#: The JSON form of every value type but the nested ones, as
#: ``translator.mapping.values`` writes it.
SCALAR_SCHEMAS = {
    'string': {'type': 'string'},
    'int': {'type': 'integer', 'minimum': -_INT_BOUND,
            'maximum': _INT_BOUND - 1},
    'float': {'type': 'number'},
    'bool': {'type': 'boolean'},
    'uuid': {'type': 'string', 'format': 'uuid'},
    'datetime': {'type': 'string', 'format': 'date-time',
                 'pattern': r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'},
    'ip_address': {'type': 'string',
                   'anyOf': [{'format': 'ipv4'}, {'format': 'ipv6'}]},
    'mac_address': {'type': 'string',
                    'pattern': values._MAC_RE.pattern},  # noqa: SLF001
    'dict_of_strings': {'type': 'object',
                        'additionalProperties': {'type': 'string'}},
    'list_of_strings': {'type': 'array', 'items': {'type': 'string'}},
}


def def_key(namespace, name):
    """The ``$defs`` key of a payload class."""
    return '%s.%s' % (namespace, name)


def file_name(pdef):
    """Where a class version's schema goes, below the output folder."""
    return pathlib.PurePath(pdef.namespace, '%s-%s.json' % (pdef.name,
                                                            pdef.version))


# Fields ------------------------------------------------------------------

def _null_otherwise(fspec):
    # YAML reads a bare `otherwise: null` as None, which the spec keeps.
    return fspec.get('otherwise', 'absent') != 'absent'


def can_be_null(fspec):
    """Whether the translator can write null for the field."""
    if _null_otherwise(fspec):
        return True
    if 'default' in fspec:
        return fspec['default'] is None
    return fspec['nullable']


def is_required(fspec):
    """Whether the field is in every payload of its class."""
    return not ({'when', 'present_if'} & fspec.keys()) or _null_otherwise(
        fspec)


def _condition_text(fspec):
    """When a conditional field is there, for its description."""
    parts = []
    for key, globs in fspec.get('when', {}).items():
        parts.append('%s matches %s' % (key, ' or '.join(globs)))
    if 'present_if' in fspec:
        parts.append('the legacy notification holds %s' % ' or '.join(
            fspec['present_if']))
    text = 'Only when %s' % ' and '.join(parts)
    return text + ('; null otherwise.' if _null_otherwise(fspec)
                   else '; absent otherwise.')


def _nullable(schema):
    if 'type' not in schema:
        return {'anyOf': [schema, {'type': 'null'}]}
    out = dict(schema, type=[schema['type'], 'null'])
    if 'enum' in schema:
        out['enum'] = schema['enum'] + [None]
    return out


def field_schema(namespace, fspec, first_version):
    """The JSON Schema of one field of a payload's data."""
    kind = fspec['type']
    if kind in spec.OBJECT_TYPES:
        ref = {'$ref': '#/$defs/' + def_key(namespace, fspec['class_'])}
        schema = ref if kind == 'object' else {'type': 'array',
                                               'items': ref}
    else:
        schema = dict(SCALAR_SCHEMAS[kind])
        if 'values' in fspec:
            schema['enum'] = list(fspec['values'])
    if can_be_null(fspec):
        schema = _nullable(schema)
    notes = [fspec.get('doc', '')]
    if fspec.get('since', first_version) != first_version:
        notes.append('Since %s.' % fspec['since'])
    if {'when', 'present_if'} & fspec.keys():
        notes.append(_condition_text(fspec))
    text = ' '.join(n for n in notes if n)
    return dict(schema, description=text) if text else schema


def payload_schema(pdef):
    """The JSON Schema of a payload class's serialised object."""
    prefix = '%s_object.' % pdef.namespace
    first = pdef.first_version
    data = {
        'type': 'object',
        'properties': {name: field_schema(pdef.namespace, fspec, first)
                       for name, fspec in pdef.fields.items()},
        'required': [name for name, fspec in pdef.fields.items()
                     if is_required(fspec)],
        'additionalProperties': False,
    }
    schema = {'title': '%s %s' % (pdef.name, pdef.version)}
    if pdef.doc:
        schema['description'] = pdef.doc
    schema.update({
        'type': 'object',
        'properties': {
            prefix + 'name': {'const': pdef.name},
            prefix + 'namespace': {'const': pdef.namespace},
            prefix + 'version': {'const': pdef.version},
            prefix + 'data': data,
        },
        'required': [prefix + key for key in ('name', 'namespace',
                                              'version', 'data')],
        'additionalProperties': False,
    })
    return schema


def _reachable(mapping_set, pdef):
    """The class and every class nested in it, each once, in order."""
    found = {}
    todo = [pdef]
    while todo:
        current = todo.pop(0)
        key = (current.namespace, current.name)
        if key in found:
            continue
        found[key] = current
        todo += [mapping_set.payload(current.namespace, fspec['class_'])
                 for fspec in current.fields.values() if 'class_' in fspec]
    return list(found.values())


# The envelope ------------------------------------------------------------

def _regex_escape(text):
    # re.escape also escapes '-', which ECMA-262 regexes in unicode mode
    # (ajv's, and other consumers') refuse outside a character class.
    return re.sub(r'([\\^$.|?*+()\[\]{}])', r'\\\1', text)


#: What a template placeholder that no capture list bounds can stand for.
_FREE = {'publisher_id': '.+', 'service': '[^.:]+', 'host': '.*'}


def _choices(rule, name):
    allowed = rule.get('captures', {}).get(name)
    if isinstance(allowed, dict):
        return sorted(set(allowed.values()))
    return allowed


def _expand(rule, template):
    """Every text a template gives (a list), or its regex (a str)."""
    parts = [(literal, name) for literal, name, _, _
             in string.Formatter().parse(template)]
    if all(name is None or _choices(rule, name) for _, name in parts):
        texts = ['']
        for literal, name in parts:
            texts = [t + literal for t in texts]
            if name is not None:
                texts = [t + c for t in texts for c in _choices(rule, name)]
        return texts
    regex = ''
    for literal, name in parts:
        regex += _regex_escape(literal)
        if name is not None:
            choices = _choices(rule, name)
            regex += ('(?:%s)' % '|'.join(map(_regex_escape, choices))
                      if choices else _FREE.get(name, '[^.]+'))
    return regex


def _text_schema(rules, key):
    """An enum of the texts the rules' templates give, or a pattern."""
    texts, regexes = [], []
    for rule in rules:
        expanded = _expand(rule, rule[key])
        if isinstance(expanded, str):
            regexes.append(expanded)
        else:
            texts += [t for t in expanded if t not in texts]
    if not regexes:
        return {'type': 'string', 'enum': texts}
    regexes += [_regex_escape(t) for t in texts]
    return {'type': 'string', 'pattern': '^(?:%s)$' % '|'.join(regexes)}


def _priority_schema(rules):
    fixed = {rule['priority'] for rule in rules if 'priority' in rule}
    free = [rule for rule in rules if 'priority' not in rule]
    event_types = [_expand(rule, rule['event_type']) for rule in free]
    if all(isinstance(e, list) and all(t.endswith('.error') for t in e)
           for e in event_types):
        fixed |= {'ERROR'} if free else set()
        return {'type': 'string', 'enum': sorted(fixed)}
    return {'type': 'string', 'description': (
        "ERROR for an event type ending in '.error', else the legacy "
        "notification's priority in upper case (oslo.messaging sends %s)."
        % ', '.join(_PRIORITIES)), 'examples': list(_PRIORITIES)}


def _envelope_properties(rules, payload_ref):
    id_pattern = ('^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-'
                  '[0-9a-f]{12}$')
    return {
        'message_id': {'type': 'string', 'format': 'uuid',
                       'pattern': id_pattern, 'description': (
                           "A uuid5 of the legacy message_id: a message "
                           "delivered again gives the same id.")},
        'publisher_id': dict(_text_schema(rules, 'publisher'),
                             description='The publisher, as the service '
                                         'would name itself natively.'),
        'event_type': _text_schema(rules, 'event_type'),
        'priority': _priority_schema(rules),
        'payload': payload_ref,
        'timestamp': {'type': ['string', 'null'], 'description': (
            "The legacy notification's timestamp as its service wrote it "
            "(oslo.messaging: 'YYYY-MM-DD HH:MM:SS.ffffff', UTC); null "
            "when it had none.")},
        '_unique_id': {'type': 'string', 'pattern': '^[0-9a-f]{32}$',
                       'description': (
                           'Only on the bus: message_id without dashes, '
                           'by which oslo.messaging listeners drop '
                           'duplicates.')},
    }


def notification_schema(mapping_set, pdef, rules):
    """The JSON Schema of the notifications a class version is sent in."""
    ref = {'$ref': '#/$defs/' + def_key(pdef.namespace, pdef.name)}
    return {
        '$schema': DIALECT,
        'title': '%s %s notification' % (pdef.name, pdef.version),
        'description': (
            'A versioned notification with a %s %s payload: a line of '
            '`translator translate`, or the JSON text in `oslo.message` of '
            "the relay's messagingv2 body, with _unique_id and the "
            "request context's _context_* keys (secrets masked) beside "
            'it.' % (pdef.name, pdef.version)),
        'type': 'object',
        'properties': _envelope_properties(rules, ref),
        'patternProperties': {'^_context_': {
            'description': 'Only on the bus: a key of the request context '
                           'the legacy notification was sent with.'}},
        'required': list(ENVELOPE_KEYS),
        'additionalProperties': False,
        '$defs': {def_key(p.namespace, p.name): payload_schema(p)
                  for p in _reachable(mapping_set, pdef)},
    }


# The set -----------------------------------------------------------------

def emitted(mapping_set):
    """[(PayloadDef, [rule spec])] of every class a rule sends, in the
    order of the rules."""
    by_class = {}
    for ruledef in mapping_set.rules:
        rule = ruledef.spec
        by_class.setdefault((rule['namespace'], rule['payload']),
                            []).append(rule)
    return [(mapping_set.payload(*key), rules)
            for key, rules in by_class.items()]


def dump(document):
    return json.dumps(document, indent=2, ensure_ascii=False) + '\n'


def documents(mapping_set):
    """{relative path: document} of every notification's JSON Schema and
    the AsyncAPI document."""
    sent = [(pdef, rules, file_name(pdef))
            for pdef, rules in emitted(mapping_set)]
    found = {path: notification_schema(mapping_set, pdef, rules)
             for pdef, rules, path in sent}
    found[pathlib.PurePath(asyncapi.FILE)] = asyncapi.document(mapping_set,
                                                               sent)
    return found


def _generate(mapping_set, out_dir):
    """{path: text} of ``translator schema``'s output."""
    out_dir = pathlib.Path(out_dir)
    return {out_dir / path: dump(document)
            for path, document in documents(mapping_set).items()}


def _stale(out_dir, files):
    """Schemas of versions no longer emitted, left in the folder."""
    return [path for path in pathlib.Path(out_dir).glob('*/*-*.json')
            if path not in files]


def write_all(mapping_set, out_dir):
    """Write every schema and the AsyncAPI document, remove the schemas
    of versions no longer emitted; return the paths written."""
    files = _generate(mapping_set, out_dir)
    for path in _stale(out_dir, files):
        path.unlink()
    return docs.write_files(files)


def check_all(mapping_set, out_dir):
    """Paths that are missing, not current, or no longer emitted."""
    files = _generate(mapping_set, out_dir)
    return docs.outdated(files) + _stale(out_dir, files)
