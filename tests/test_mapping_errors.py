"""A broken mapping set is refused whole, naming file, line and key path.

Every check of ``mapping/spec.py`` and ``mapping/loader.py`` has here a
smallest input that it refuses, and the test asserts the whole list of
problems: a check removed, or one that names another key or line, fails.
"""

import pytest

from translator.mapping import loader
from tests.conftest import write_mappings

GOOD = '''
payloads:
  P:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      id: {type: string, source: id}
rules:
  - match: thing.done
    event_type: thing.done
    payload: P
'''
FIELD = '{type: string, source: id}'


def problems(tmp_path, files):
    with pytest.raises(loader.MappingError) as caught:
        loader.load_mapping_set(write_mappings(tmp_path / 'm', files))
    return [str(p) for p in caught.value.problems]


def problems_of(tmp_path, text):
    """The problems of one file, without its name: 'line: keys: text'."""
    prefix = '%s:' % (tmp_path / 'm/svc/a.yaml')
    found = problems(tmp_path, {'svc/a.yaml': text})
    assert all(p.startswith(prefix) for p in found), found
    return [p[len(prefix):] for p in found]


def _listed(expected):
    return [expected] if isinstance(expected, str) else list(expected)


def test_good_set_loads(tmp_path):
    mset = loader.load_mapping_set(write_mappings(tmp_path / 'm',
                                                  {'svc/a.yaml': GOOD}))
    assert [r.spec['event_type'] for r in mset.rules] == ['thing.done']
    assert set(mset.payloads) == {('svc', 'P')}


#: One field rule (replacing FIELD, line 7) -> the problems it gives, each
#: after '7: payloads.P.fields.id.'.
FIELD_RULES = {
    'type required': ('{source: id}',
                      'type: Missing data for required field.'),
    'type is known': (
        '{type: text, source: id}',
        'type: Must be one of: string, int, float, bool, uuid, datetime, '
        'ip_address, mac_address, dict_of_strings, list_of_strings, '
        'object, list_of_objects.'),
    'type is text': ('{type: [string], source: id}',
                     'type: Not a valid string.'),
    'unknown key': ('{type: string, source: id, colour: red}',
                    'colour: Unknown field.'),
    'source is text': ('{type: string, source: 5}', 'source: Must be a '
                       'string or a non-empty list of strings.'),
    'source list not empty': ('{type: string, source: []}', 'source: Must '
                              'be a string or a non-empty list of strings.'),
    'source list of text': ('{type: string, source: [id, 5]}', 'source: '
                            'Must be a string or a non-empty list of '
                            'strings.'),
    'nullable is boolean': ('{type: string, source: id, nullable: maybe}',
                            'nullable: Not a valid boolean.'),
    'empty_as_null is boolean': (
        '{type: string, source: id, empty_as_null: maybe}',
        'empty_as_null: Not a valid boolean.'),
    'extract is text': ('{type: string, source: id, extract: [a]}',
                        'extract: Not a valid string.'),
    'case is lower or upper': ('{type: string, source: id, case: title}',
                               'case: Must be one of: lower, upper.'),
    'case is text': ('{type: string, source: id, case: [lower]}',
                     'case: Not a valid string.'),
    'map is a mapping': ('{type: string, source: id, map: [a]}',
                         'map: Not a valid mapping type.'),
    'values is a list': ('{type: string, source: id, values: a}',
                         'values: Not a valid list.'),
    'values not empty': ('{type: string, source: id, values: []}',
                         'values: Shorter than minimum length 1.'),
    'values are text': ('{type: string, source: id, values: [a, [b]]}',
                        'values.1: Not a valid string.'),
    'when is a mapping': ('{type: string, source: id, when: [a]}',
                          'when: Not a valid mapping type.'),
    'when keys are text': ('{type: string, source: id, when: {1: a}}',
                           'when.1: bad key: Not a valid string.'),
    'when globs are text': ('{type: string, source: id, when: {phase: 5}}',
                            'when.phase: Must be a string or a non-empty '
                            'list of strings.'),
    'present_if is text': ('{type: string, source: id, present_if: [5]}',
                           'present_if: Must be a string or a non-empty '
                           'list of strings.'),
    'otherwise is absent or null': (
        '{type: string, source: id, when: {phase: a}, otherwise: never}',
        'otherwise: Must be absent or null.'),
    'class is text': ('{type: object, class: [P], source: .}',
                      'class: Not a valid string.'),
    'since is text': ('{type: string, source: id, since: 1.0}',
                      'since: Not a valid string.'),
    'since is a version': ('{type: string, source: id, since: "1.0a"}',
                           'since: String does not match expected pattern.'),
    'compose is a mapping': ('{type: object, class: P, compose: [a]}',
                             'compose: Not a valid mapping type.'),
    'compose keys are text': ('{type: object, class: P, compose: {1: a}}',
                              'compose.1: bad key: Not a valid string.'),
    'compose keys are names': (
        '{type: object, class: P, compose: {a-b: a}}',
        'compose.a-b: bad key: String does not match expected pattern.'),
    'compose paths are text': ('{type: object, class: P, compose: {a: 5}}',
                               'compose.a: Must be a string or a non-empty '
                               'list of strings.'),
    'reject is text': (
        '{type: string, source: id, nullable: true, reject: [a]}',
        'reject: Not a valid string.'),
    'doc is text': ('{type: string, source: id, doc: [a]}',
                    'doc: Not a valid string.'),
    'source or constant': ('{type: string, source: id, constant: x}',
                           'constant: source and constant exclude each '
                           'other'),
    'a value from somewhere': ('{type: string}', 'source: needs a source, '
                               'a constant or a default'),
    'compose only for objects': (
        '{type: string, compose: {a: b}}',
        'compose: only object fields take it, instead of a source or '
        'constant'),
    'compose not with source': (
        '{type: object, class: P, source: ., compose: {a: b}}',
        'compose: only object fields take it, instead of a source or '
        'constant'),
    'compose not with constant': (
        '{type: object, class: P, constant: null, nullable: true, '
        'compose: {a: b}}',
        'compose: only object fields take it, instead of a source or '
        'constant'),
    'reject needs a source': (
        '{type: object, class: P, compose: {a: b}, nullable: true, '
        'reject: r}',
        'reject: needs a source, no default, and nullable or present_if '
        '(what the field is without a value)'),
    'reject takes no default': (
        '{type: string, source: id, default: x, nullable: true, reject: r}',
        'reject: needs a source, no default, and nullable or present_if '
        '(what the field is without a value)'),
    'reject needs nullable or present_if': (
        '{type: string, source: id, reject: r}',
        'reject: needs a source, no default, and nullable or present_if '
        '(what the field is without a value)'),
    'class for objects': ('{type: object, source: .}', 'class: `class` is '
                          'required for object and list_of_objects, and '
                          'only for them'),
    'class for lists of objects': (
        '{type: list_of_objects, source: x}',
        'class: `class` is required for object and list_of_objects, and '
        'only for them'),
    'class only for objects': (
        '{type: string, source: id, class: P}',
        'class: `class` is required for object and list_of_objects, and '
        'only for them'),
    'values only for strings': ('{type: int, source: id, values: [a]}',
                                'values: only string fields take `values`'),
    'default null needs nullable': (
        '{type: string, source: id, default: null}',
        'default: null, but the field is not nullable'),
    'constant null needs nullable': (
        '{type: string, constant: null}',
        'constant: null, but the field is not nullable'),
    'no fixed object': (
        '{type: object, class: P, default: {id: x}}',
        'default: object fields take no fixed value but null (and [] for '
        'lists)'),
    'no empty list for an object': (
        '{type: object, class: P, source: ., default: []}',
        'default: object fields take no fixed value but null (and [] for '
        'lists)'),
    'no fixed list of objects': (
        '{type: list_of_objects, class: P, source: x, default: [{id: x}]}',
        'default: object fields take no fixed value but null (and [] for '
        'lists)'),
    'default fits the type': ('{type: int, source: id, default: lots}',
                              "default: not an integer: 'lots' for type "
                              "int"),
    'constant is one of values': ('{type: string, constant: x, '
                                  'values: [a, b]}',
                                  "constant: 'x' is not one of a, b for "
                                  "type string"),
    'otherwise needs a condition': (
        '{type: string, source: id, otherwise: null}',
        'otherwise: only fields with `when` or `present_if` take it'),
    'otherwise null needs nullable': (
        '{type: string, source: id, when: {phase: a}, otherwise: null}',
        'otherwise: null, but the field is not nullable'),
    'extract is a regular expression': (
        '{type: string, source: id, extract: "("}',
        'extract: not a regular expression: missing ), unterminated '
        'subpattern at position 0'),
    'extract has one group': ('{type: string, source: id, extract: a}',
                              'extract: needs exactly one group'),
    'envelope source is known': ('{type: string, source: $nowhere.x}',
                                 "source: bad envelope source '$nowhere.x'"),
    'context source is one key': ('{type: string, source: $context.a.b}',
                                  "source: bad envelope source "
                                  "'$context.a.b'"),
    'context is no value': ('{type: string, source: [id, $context]}',
                            "source: bad envelope source '$context'"),
    'present_if envelope source': (
        '{type: string, source: id, present_if: $context}',
        "present_if: bad envelope source '$context'"),
    'compose envelope source': (
        '{type: object, class: P, compose: {a: b, c: [d, $context]}}',
        "compose.c: bad envelope source '$context'"),
    'class exists': ('{type: object, class: Missing, source: .}',
                     "class: unknown payload class 'Missing' in namespace "
                     "'svc'"),
    'since not newer than the class': (
        '{type: string, source: id, since: "2.0"}',
        ('since: version 2.0 is newer than the class version 1.0',
         'since: version 2.0 is not in the history')),
    'since in the history': ('{type: string, source: id, since: "0.9"}',
                             'since: version 0.9 is not in the history'),
    'unquote is python': ('{type: string, source: id, unquote: json}',
                          'unquote: Must be one of: python.'),
    'unquote for strings only': ('{type: int, source: id, unquote: python}',
                                 'unquote: only string fields take it'),
}


@pytest.mark.parametrize('field,expected', FIELD_RULES.values(),
                         ids=FIELD_RULES)
def test_field_rules(tmp_path, field, expected):
    found = problems_of(tmp_path, GOOD.replace(FIELD, field))
    assert found == ['7: payloads.P.fields.id.' + e
                     for e in _listed(expected)]


#: (text replaced in GOOD, its replacement) -> the problems, each as
#: 'line: key path: message'.
SET_RULES = {
    'version required': (('    version: "1.0"\n', ''),
                         '3: payloads.P.version: Missing data for required '
                         'field.'),
    'version is text': (('version: "1.0"', 'version: 1.0'),
                        '4: payloads.P.version: Not a valid string.'),
    'version is a version': (('version: "1.0"', 'version: one'),
                             '4: payloads.P.version: String does not match '
                             'expected pattern.'),
    'history required': (('    history: {"1.0": Initial version}\n', ''),
                         '3: payloads.P.history: Missing data for required '
                         'field.'),
    'history is a mapping': (('history: {"1.0": Initial version}',
                              'history: ["1.0"]'),
                             '5: payloads.P.history: Not a valid mapping '
                             'type.'),
    'history keys are text': (('"1.0": Initial', '1.0: Initial'),
                              '5: payloads.P.history.1.0: bad key: Not a '
                              'valid string.'),
    'history keys are versions': (('Initial version}',
                                   'Initial version, v2: Next}'),
                                  '5: payloads.P.history.v2: bad key: String '
                                  'does not match expected pattern.'),
    'history says what changed': (('Initial version}', '[Initial]}'),
                                  '5: payloads.P.history.1.0: Not a valid '
                                  'string.'),
    'history lists the version': (('version: "1.0"', 'version: "1.1"'),
                                  '5: payloads.P.history: must list the '
                                  'current version 1.1'),
    'history not newer than the class': (
        ('Initial version}', 'Initial version, "1.1": Next}'),
        '5: payloads.P.history: history names 1.1, newer than the class '
        'version 1.0'),
    'payload namespace is text': (('    fields:', '    namespace: [a]\n'
                                   '    fields:'),
                                  '6: payloads.P.namespace: Not a valid '
                                  'string.'),
    'extends is text': (('    fields:', '    extends: [a]\n    fields:'),
                        '6: payloads.P.extends: Not a valid string.'),
    'payload doc is text': (('    fields:', '    doc: [a]\n    fields:'),
                            '6: payloads.P.doc: Not a valid string.'),
    'payload unknown key': (('    fields:', '    colour: red\n    fields:'),
                            '6: payloads.P.colour: Unknown field.'),
    'fields required': (('    fields:\n      id: ' + FIELD + '\n', ''),
                        '3: payloads.P.fields: Missing data for required '
                        'field.'),
    'fields is a mapping': (('\n      id: ' + FIELD, ' [id]'),
                            '6: payloads.P.fields: Not a valid mapping '
                            'type.'),
    'field names are text': (('      id:', '      1:'),
                             '7: payloads.P.fields.1: bad key: Not a valid '
                             'string.'),
    'field names are names': (('      id:', '      1a:'),
                              '7: payloads.P.fields.1a: bad key: String '
                              'does not match expected pattern.'),
    'field is a mapping': ((FIELD, 'string'),
                           '7: payloads.P.fields.id: Invalid input type.'),
    'file namespace is text': (('\npayloads:', '\nnamespace: [a]\n'
                                'payloads:'),
                               '2: namespace: Not a valid string.'),
    'file doc is text': (('\npayloads:', '\ndoc: [a]\npayloads:'),
                         '2: doc: Not a valid string.'),
    'file unknown key': (('\npayloads:', '\ncolour: red\npayloads:'),
                         '2: colour: Unknown field.'),
    'payloads is a mapping': ((GOOD[:GOOD.index('rules')],
                               '\npayloads: [P]\n'),
                              '2: payloads: Not a valid mapping type.'),
    'class names are text': (('  P:', '  1:'),
                             '3: payloads.1: bad key: Not a valid string.'),
    'class names are names': (('  P:', '  a-b:'),
                              '3: payloads.a-b: bad key: String does not '
                              'match expected pattern.'),
    'payload is a mapping': (('  P:\n', '  Q: 5\n  P:\n'),
                             '3: payloads.Q: Invalid input type.'),
    'rules is a list': (('rules:\n  -', 'rules:\n   '),
                        '8: rules: Not a valid list.'),
    'rule is a mapping': (('payload: P', 'payload: P\n  - 5'),
                          '12: rules.1: Invalid input type.'),
    'match required': (('  - match: thing.done\n    event', '  - event'),
                       '9: rules.0.match: Missing data for required field.'),
    'match is text': (('match: thing.done', 'match: []'),
                      '9: rules.0.match: Must be a string or a non-empty '
                      'list of strings.'),
    'exclude is text': (('payload: P', 'payload: P\n    exclude: 5'),
                        '12: rules.0.exclude: Must be a string or a '
                        'non-empty list of strings.'),
    'captures is a mapping': (('payload: P', 'payload: P\n    captures: a'),
                              '12: rules.0.captures: Not a valid mapping '
                              'type.'),
    'capture names are text': (('payload: P',
                                'payload: P\n    captures: {1: [x]}'),
                               '12: rules.0.captures.1: bad key: Not a valid '
                               'string.'),
    'capture names are names': (('payload: P',
                                 'payload: P\n    captures: {a-b: [x]}'),
                                '12: rules.0.captures.a-b: bad key: String '
                                'does not match expected pattern.'),
    'capture values as a list': (('payload: P', 'payload: P\n    '
                                  'captures: {a: [x, 1]}'),
                                 '12: rules.0.captures.a: must be a list of '
                                 'strings or a map of strings'),
    'capture values as a non-empty list': (
        ('payload: P', 'payload: P\n    captures: {a: []}'),
        '12: rules.0.captures.a: must be a list of strings or a map of '
        'strings'),
    'capture values as a map': (('payload: P', 'payload: P\n    '
                                 'captures: {a: {x: 1}}'),
                                '12: rules.0.captures.a: must be a list of '
                                'strings or a map of strings'),
    'capture values as a non-empty map': (
        ('payload: P', 'payload: P\n    captures: {a: {}}'),
        '12: rules.0.captures.a: must be a list of strings or a map of '
        'strings'),
    'capture values as a map of text keys': (
        ('payload: P', 'payload: P\n    captures: {a: {1: x}}'),
        '12: rules.0.captures.a: must be a list of strings or a map of '
        'strings'),
    'capture values are a list or a map': (
        ('payload: P', 'payload: P\n    captures: {a: x}'),
        '12: rules.0.captures.a: must be a list of strings or a map of '
        'strings'),
    'event_type required': (('    event_type: thing.done\n', ''),
                            '9: rules.0.event_type: Missing data for '
                            'required field.'),
    'event_type is text': (('event_type: thing.done', 'event_type: [a]'),
                           '10: rules.0.event_type: Not a valid string.'),
    'payload required': (('    payload: P\n', ''),
                         '9: rules.0.payload: Missing data for required '
                         'field.'),
    'payload is text': (('payload: P', 'payload: [P]'),
                        '11: rules.0.payload: Not a valid string.'),
    'priority is known': (('payload: P', 'payload: P\n    priority: LOUD'),
                          '12: rules.0.priority: Must be one of: AUDIT, '
                          'DEBUG, INFO, WARN, ERROR, CRITICAL, SAMPLE.'),
    'priority is text': (('payload: P', 'payload: P\n    priority: [INFO]'),
                         '12: rules.0.priority: Not a valid string.'),
    'publisher is text': (('payload: P', 'payload: P\n    publisher: [a]'),
                          '12: rules.0.publisher: Not a valid string.'),
    'continue is boolean': (('payload: P', 'payload: P\n    continue: '
                             'maybe'),
                            '12: rules.0.continue: Not a valid boolean.'),
    'rule doc is text': (('payload: P', 'payload: P\n    doc: [a]'),
                         '12: rules.0.doc: Not a valid string.'),
    'rule unknown key': (('payload: P', 'payload: P\n    colour: red'),
                         '12: rules.0.colour: Unknown field.'),
    'watch is a mapping': (('payload: P', 'payload: P\n    watch: id'),
                           '12: rules.0.watch: Invalid input type.'),
    'watch identity required': (('payload: P', 'payload: P\n    watch: '
                                 '{fields: [id]}'),
                                '12: rules.0.watch.identity: Missing data '
                                'for required field.'),
    'watch identity is text': (('payload: P', 'payload: P\n    watch: '
                                '{identity: [id], fields: [id]}'),
                               '12: rules.0.watch.identity: Not a valid '
                               'string.'),
    'watch fields required': (('payload: P', 'payload: P\n    watch: '
                               '{identity: id}'),
                              '12: rules.0.watch.fields: Missing data for '
                              'required field.'),
    'watch fields is a list': (('payload: P', 'payload: P\n    watch: '
                                '{identity: id, fields: id}'),
                               '12: rules.0.watch.fields: Not a valid '
                               'list.'),
    'watch fields not empty': (('payload: P', 'payload: P\n    watch: '
                                '{identity: id, fields: []}'),
                               '12: rules.0.watch.fields: Shorter than '
                               'minimum length 1.'),
    'watch fields are text': (('payload: P', 'payload: P\n    watch: '
                               '{identity: id, fields: [[id]]}'),
                              '12: rules.0.watch.fields.0: Not a valid '
                              'string.'),
    'watch unknown key': (('payload: P', 'payload: P\n    watch: '
                           '{identity: id, fields: [id], colour: red}'),
                          '12: rules.0.watch.colour: Unknown field.'),
    'watch identity is a field': (('payload: P', 'payload: P\n    watch: '
                                   '{identity: uuid, fields: [id]}'),
                                  "12: rules.0.watch: 'uuid' is not a field "
                                  "of P"),
    'watch fields are fields': (('payload: P', 'payload: P\n    watch: '
                                 '{identity: id, fields: [id, state]}'),
                                "12: rules.0.watch: 'state' is not a field "
                                "of P"),
    'capture name not reserved': (('match: thing.done', 'match: x.{host}'),
                                  '9: rules.0.match: capture name {host} is '
                                  'reserved'),
    'captures are in match': (('payload: P',
                               'payload: P\n    captures: {a: [x]}'),
                              '12: rules.0.captures.a: no {a} in match'),
    'event_type placeholders are known': (('event_type: thing.done',
                                           'event_type: x.{nope}'),
                                          '10: rules.0.event_type: unknown '
                                          'placeholder {nope}'),
    'publisher placeholders are known': (('payload: P', 'payload: P\n    '
                                          'publisher: x-{nope}'),
                                         '12: rules.0.publisher: unknown '
                                         'placeholder {nope}'),
    'event_type braces pair': (('event_type: thing.done',
                                'event_type: "x.{"'),
                               "10: rules.0.event_type: not a template: "
                               "Single '{' encountered in format string"),
    'publisher braces pair': (('payload: P', 'payload: P\n    publisher: '
                               '"x}"'),
                              "12: rules.0.publisher: not a template: "
                              "Single '}' encountered in format string"),
    'placeholders are named': (('event_type: thing.done',
                                'event_type: x.{}.{b}.{a}'),
                               ('10: rules.0.event_type: unknown placeholder '
                                '{}',
                                '10: rules.0.event_type: unknown placeholder '
                                '{a}',
                                '10: rules.0.event_type: unknown placeholder '
                                '{b}')),
    'rule payload exists': (('payload: P', 'payload: Q'),
                            "11: rules.0.payload: unknown payload class "
                            "'Q'"),
    'untranslated is a list': (('payload: P', 'payload: P\nuntranslated: '
                                'a'),
                               '12: untranslated: Not a valid list.'),
    'untranslated entry is a mapping': (('payload: P', 'payload: P\n'
                                         'untranslated: [a]'),
                                        '12: untranslated.0: Invalid input '
                                        'type.'),
    'untranslated match required': (('payload: P', 'payload: P\n'
                                      'untranslated: [{reason: r}]'),
                                     '12: untranslated.0.match: Missing data '
                                     'for required field.'),
    'untranslated match is text': (('payload: P', 'payload: P\n'
                                    'untranslated: [{match: 5, reason: r}]'),
                                   '12: untranslated.0.match: Must be a '
                                   'string or a non-empty list of strings.'),
    'untranslated reason required': (('payload: P', 'payload: P\n'
                                      'untranslated: [{match: a}]'),
                                     '12: untranslated.0.reason: Missing '
                                     'data for required field.'),
    'untranslated reason is text': (('payload: P', 'payload: P\n'
                                     'untranslated: [{match: a, reason: '
                                     '[r]}]'),
                                    '12: untranslated.0.reason: Not a valid '
                                    'string.'),
    'untranslated unknown key': (('payload: P', 'payload: P\nuntranslated: '
                                  '[{match: a, reason: r, colour: red}]'),
                                 '12: untranslated.0.colour: Unknown '
                                 'field.'),
    'extends a known class': (('    fields:', '    extends: R\n    fields:'),
                              "6: payloads.P.extends: unknown payload class "
                              "'R' in namespace 'svc'"),
    'extends not circular': (('  P:\n', '  R: {version: "1.0", history: '
                              '{"1.0": I}, extends: P, fields: {}}\n  P:\n'
                              '    extends: R\n'),
                             '5: payloads.P.extends: circular extends: R -> '
                             'P -> R'),
}


@pytest.mark.parametrize('edit,expected', SET_RULES.values(), ids=SET_RULES)
def test_set_rules(tmp_path, edit, expected):
    text = GOOD.replace(*edit)
    assert text != GOOD
    assert problems_of(tmp_path, text) == _listed(expected)



def test_file_problems(tmp_path):
    root = write_mappings(tmp_path / 'm', {
        'svc/a.yaml': GOOD, 'svc/list.yaml': '- 1\n- 2\n',
        'svc/syntax.yaml': 'rules:\n  - match: [a\n'})
    (root / 'svc/latin1.yaml').write_bytes(b'doc: caf\xe9\n')
    with pytest.raises(loader.MappingError) as caught:
        loader.load_mapping_set(root)
    assert [str(p) for p in caught.value.problems] == [
        '%s: cannot read: %s' % (root / 'svc/latin1.yaml',
                                 "'utf-8' codec can't decode byte 0xe9 in "
                                 "position 8: invalid continuation byte"),
        '%s:1: a mapping file is a YAML mapping' % (root / 'svc/list.yaml'),
        '%s:3: YAML syntax error: expected \',\' or \']\', but got '
        '\'<stream end>\'' % (root / 'svc/syntax.yaml')]


def test_no_files(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(loader.MappingError) as caught:
        loader.load_mapping_set(tmp_path / 'empty')
    assert str(caught.value) == '%s: no *.yaml mapping files found' % (
        tmp_path / 'empty')
    with pytest.raises(loader.MappingError) as caught:
        loader.load_mapping_set(tmp_path / 'absent')
    assert str(caught.value) == '%s: no such mapping directory' % (
        tmp_path / 'absent')


def test_duplicate_class_across_files(tmp_path):
    other = GOOD.replace('thing.done', 'thing.other')
    assert problems(tmp_path, {'svc/a.yaml': GOOD, 'svc/b.yaml': other}) == [
        '%s:3: payloads.P: payload class svc.P is already declared in %s'
        % (tmp_path / 'm/svc/b.yaml', tmp_path / 'm/svc/a.yaml')]


def test_one_bad_file_refuses_the_set(tmp_path):
    found = problems(tmp_path, {
        'svc/a.yaml': GOOD,
        'svc/b.yaml': GOOD.replace('P', 'Q').replace('thing.done', 'other')
        .replace('type: string', 'type: nope')})
    assert len(found) == 1 and 'b.yaml:7: ' in found[0]


#: What the checks above must still let through, beside the shipped set.
LOADS = [
    '{type: list_of_objects, class: P, source: x, default: []}',
    '{type: string, source: id, nullable: true, default: null}',
    '{type: string, source: [id, $phase, $context.request_id, $host, .]}',
    '{type: string, source: id, nullable: true, when: {phase: a}, '
    'otherwise: null}',
    '{type: string, source: id, present_if: $context.user_id, reject: r}',
    '{type: object, class: P, compose: {a: [b, $host]}, nullable: true, '
    'present_if: b, otherwise: absent}',
    '{type: string, source: id, values: [a, b], default: b}',
    '{type: string, source: id, extract: "/(?:x)?([^/]+)$"}',
]


@pytest.mark.parametrize('field', LOADS)
def test_allowed_fields_load(tmp_path, field):
    mset = loader.load_mapping_set(write_mappings(
        tmp_path / 'm', {'svc/a.yaml': GOOD.replace(FIELD, field)}))
    assert mset.payload('svc', 'P').fields['id']['type'] in field


@pytest.mark.parametrize('captures', ['[x, y]', '{x: y}'])
def test_captures_as_list_or_map_load(tmp_path, captures):
    text = GOOD.replace('match: thing.done',
                        'match: x.{a}\n    captures: {a: %s}' % captures)
    mset = loader.load_mapping_set(write_mappings(tmp_path / 'm',
                                                  {'svc/a.yaml': text}))
    assert mset.rules[0].spec['captures']['a']


#: A set whose rule is read backwards (reverse).
REVERSE = '''
payloads:
  P:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      id: {type: string, source: id}
rules:
  - match: thing.{phase}
    captures: {phase: [start, end]}
    event_type: thing.{phase}
    payload: P
    reverse: true
'''

#: (text replaced in REVERSE, its replacement) -> the problems.
REVERSE_RULES = {
    'one match pattern': (('match: thing.{phase}',
                           'match: ["thing.{phase}", "other.{phase}"]'),
                          '13: rules.0.reverse: a rule read backwards needs '
                          'one match pattern without globs'),
    'no globs': (('match: thing.{phase}', 'match: thing*.{phase}'),
                 '13: rules.0.reverse: a rule read backwards needs one match '
                 'pattern without globs'),
    'every capture in the event type': (
        ('event_type: thing.{phase}', 'event_type: thing.done'),
        '13: rules.0.reverse: the event type does not name {phase}: the '
        'legacy one cannot be read back'),
    'a publisher to read back': (
        ('payload: P', 'payload: P\n    publisher: svc-api:{host}'),
        "9: rules.0.legacy_publisher: needed: the publisher "
        "'svc-api:{host}' names no {service} and {host} to read back"),
    'legacy publisher names what the publisher gives': (
        ('payload: P', 'payload: P\n    legacy_publisher: x.{node}'),
        "13: rules.0.legacy_publisher: {node} is not read from the "
        "versioned publisher '{publisher_id}'"),
    'reverse is boolean': (('reverse: true', 'reverse: maybe'),
                           '13: rules.0.reverse: Not a valid boolean.'),
    'fallbacks say their key': (
        ('source: id}', 'source: [id, uuid]}'),
        '7: payloads.P.fields.id.legacy: read back (a rule with reverse): '
        'read from id or uuid: say which key it goes back to (legacy.key)'),
    'extract says how': (
        ('source: id}', "source: id, extract: '(.*)'}"),
        '7: payloads.P.fields.id.legacy: read back (a rule with reverse): '
        'its value is cut out of the legacy one (extract): say how it is '
        'written back (legacy.format) or omit it (legacy.omit)'),
    'a date says its form': (
        ('{type: string, source: id}', '{type: datetime, source: id}'),
        '7: payloads.P.fields.id.legacy: read back (a rule with reverse): '
        'a date written back needs its legacy form (legacy.date)'),
    'a map gives one value each': (
        ('source: id}', 'source: id, map: {a: x, b: x}}'),
        '7: payloads.P.fields.id.legacy: read back (a rule with reverse): '
        'its map gives one value for several legacy ones: say how '
        '(legacy.format) or omit it'),
    'omit alone': (('source: id}', 'source: id, legacy: {omit: r, key: '
                    'x}}'),
                   '7: payloads.P.fields.id.legacy.omit: excludes every '
                   'other key'),
    'options are known': (
        ('source: id}', "source: id, legacy: {format: '{option.x}'}}"),
        '7: payloads.P.fields.id.legacy.format: unknown option {option.x}'),
    'field templates name the value': (
        ('source: id}', "source: id, legacy: {format: '{id}'}}"),
        '7: payloads.P.fields.id.legacy.format: unknown name {id}'),
    'template braces pair': (
        ('source: id}', "source: id, legacy: {format: 'x{value'}}"),
        "7: payloads.P.fields.id.legacy.format: braces do not pair in "
        "'x{value'"),
    'legacy keys unknown': (('source: id}', 'source: id, legacy: {colour: '
                             'red}}'),
                            '7: payloads.P.fields.id.legacy.colour: Unknown '
                            'field.'),
    'computed from fields of the class': (
        ('      id: {type: string, source: id}\n',
         '      id: {type: string, source: id}\n    legacy:\n'
         '      total: {sum: [id, size]}\n'),
        "8: payloads.P.legacy: read back (a rule with reverse): legacy "
        "total: 'size' is not a field of P"),
    'computed one way': (
        ('      id: {type: string, source: id}\n',
         '      id: {type: string, source: id}\n    legacy:\n'
         '      total: {sum: [id, id], field: id}\n'),
        '9: payloads.P.legacy.total.sum: needs exactly one of sum, field, '
        'format'),
    'computed templates name fields': (
        ('      id: {type: string, source: id}\n',
         '      id: {type: string, source: id}\n    legacy:\n'
         "      label: {format: '{1x}'}\n"),
        '9: payloads.P.legacy.label.format: {1x} is not a field name'),
    'not carried says why': (
        ('      id: {type: string, source: id}\n',
         '      id: {type: string, source: id}\n    not_carried:\n'
         '      serial: [no]\n'),
        '9: payloads.P.not_carried.serial: Not a valid string.'),
    'versioned_only match required': (
        ('reverse: true', 'reverse: true\nversioned_only: [{reason: r}]'),
        '14: versioned_only.0.match: Missing data for required field.'),
    'versioned_only reason required': (
        ('reverse: true', 'reverse: true\nversioned_only: [{match: a}]'),
        '14: versioned_only.0.reason: Missing data for required field.'),
}


def test_a_rule_read_backwards_loads(tmp_path):
    mset = loader.load_mapping_set(write_mappings(tmp_path / 'm',
                                                  {'svc/a.yaml': REVERSE}))
    assert [r.spec['reverse'] for r in mset.rules] == [True]


@pytest.mark.parametrize('edit,expected', REVERSE_RULES.values(),
                         ids=REVERSE_RULES)
def test_reverse_rules(tmp_path, edit, expected):
    text = REVERSE.replace(*edit)
    assert text != REVERSE
    assert problems_of(tmp_path, text) == _listed(expected)
