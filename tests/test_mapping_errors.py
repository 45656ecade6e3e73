"""A broken mapping set is refused whole, naming file, line and key path."""

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


def problems(tmp_path, files):
    with pytest.raises(loader.MappingError) as caught:
        loader.load_mapping_set(write_mappings(tmp_path / 'm', files))
    return [str(p) for p in caught.value.problems]


def test_good_set_loads(tmp_path):
    mset = loader.load_mapping_set(write_mappings(tmp_path / 'm',
                                                  {'svc/a.yaml': GOOD}))
    assert [r.spec['event_type'] for r in mset.rules] == ['thing.done']
    assert set(mset.payloads) == {('svc', 'P')}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    found = problems(tmp_path, {'svc/a.yaml': GOOD,
                                'svc/b.yaml': 'rules:\n  - match: [a\n'})
    assert len(found) == 1
    assert found[0].startswith(str(tmp_path / 'm/svc/b.yaml') + ':3: ')
    assert 'YAML syntax error' in found[0]


@pytest.mark.parametrize('field,message', [
    ('{type: text, source: id}', 'type: Must be one of'),
    ('{type: string}', 'source: needs a source, a constant or a default'),
    ('{type: string, source: id, colour: red}', 'colour: Unknown field.'),
    ('{type: string, source: id, constant: 1}',
     'constant: source and constant exclude each other'),
    ('{type: object, source: .}', 'class: `class` is required'),
    ('{type: int, source: id, values: [a]}', 'values: only string fields'),
    ('{type: string, source: id, extract: "("}',
     'extract: not a regular expression'),
    ('{type: string, source: id, extract: "a"}',
     'extract: needs exactly one group'),
    ('{type: string, source: id, unquote: json}',
     'unquote: Must be one of: python'),
    ('{type: int, source: id, unquote: python}',
     'unquote: only string fields take it'),
    ('{type: string, source: id, otherwise: null}',
     'otherwise: only fields with `when` or `present_if`'),
    ('{type: string, source: $nowhere.x}', "source: bad envelope source"),
    ('{type: string, source: $context.a.b}', "source: bad envelope source"),
    ('{type: string, source: id, present_if: $context}',
     "present_if: bad envelope source"),
    ('{type: object, class: Missing, source: .}',
     "class: unknown payload class 'Missing'"),
    ('{type: string, source: id, since: "2.0"}',
     'since: version 2.0 is newer than the class version 1.0'),
])
def test_field_errors(tmp_path, field, message):
    text = GOOD.replace('{type: string, source: id}', field)
    found = problems(tmp_path, {'svc/a.yaml': text})
    prefix = str(tmp_path / 'm/svc/a.yaml') + ':7: payloads.P.fields.id.'
    assert any(f.startswith(prefix + message) for f in found), found


@pytest.mark.parametrize('change,line,message', [
    (('version: "1.0"', 'version: "1.1"'), 5,
     'payloads.P.history: must list the current version 1.1'),
    (('version: "1.0"', 'version: one'), 4, 'payloads.P.version: '),
    (('event_type: thing.done', 'event_type: x.{nope}'), 10,
     'rules.0.event_type: unknown placeholder {nope}'),
    (('payload: P', 'payload: Q'), 11,
     "rules.0.payload: unknown payload class 'Q'"),
    (('match: thing.done', 'match: x.{host}'), 9,
     'rules.0.match: capture name {host} is reserved'),
    (('match: thing.done', 'match: [thing.done]\n    captures: {a: [x]}'),
     10, 'rules.0.captures.a: no {a} in match'),
    (('priority_', 'x'), None, None),
])
def test_rule_and_payload_errors(tmp_path, change, line, message):
    text = GOOD.replace(*change)
    if message is None:
        loader.load_mapping_set(write_mappings(tmp_path / 'm',
                                               {'svc/a.yaml': text}))
        return
    [found] = problems(tmp_path, {'svc/a.yaml': text})
    assert found.startswith('%s:%d: ' % (tmp_path / 'm/svc/a.yaml', line))
    assert message in found


def test_extends_errors(tmp_path):
    text = GOOD.replace('    fields:', '    extends: R\n    fields:', 1)
    [found] = problems(tmp_path, {'svc/a.yaml': text})
    assert "a.yaml:6: payloads.P.extends: unknown payload class 'R'" in found
    circular = text.replace('rules:', '''  R:
    version: "1.0"
    history: {"1.0": Initial version}
    extends: P
    fields: {}
rules:''')
    found = problems(tmp_path, {'svc/a.yaml': circular})
    assert any('extends: circular extends: P -> R -> P' in f for f in found)


def test_duplicate_class_across_files(tmp_path):
    found = problems(tmp_path, {'svc/a.yaml': GOOD, 'svc/b.yaml': GOOD})
    assert any('b.yaml' in f and 'payload class svc.P is already declared'
               in f for f in found)


def test_one_bad_file_refuses_the_set(tmp_path):
    found = problems(tmp_path, {
        'svc/a.yaml': GOOD,
        'svc/b.yaml': GOOD.replace('P', 'Q').replace('thing.done', 'other')
        .replace('type: string', 'type: nope')})
    assert len(found) == 1 and 'b.yaml' in found[0]


def test_not_a_mapping_and_empty_dir(tmp_path):
    [found] = problems(tmp_path, {'svc/a.yaml': '- 1\n- 2\n'})
    assert found.endswith('a.yaml:1: a mapping file is a YAML mapping')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(loader.MappingError, match='no \\*.yaml mapping'):
        loader.load_mapping_set(empty)
    with pytest.raises(loader.MappingError, match='no such mapping dir'):
        loader.load_mapping_set(tmp_path / 'absent')


@pytest.mark.parametrize('field,message', [
    ('{type: int, source: id, default: lots}',
     "default: not an integer: 'lots' for type int"),
    ('{type: string, source: id, default: null}',
     'default: null, but the field is not nullable'),
    ('{type: string, constant: x, values: [a, b]}',
     "constant: 'x' is not one of a, b for type string"),
])
def test_fixed_values_are_checked_at_load(tmp_path, field, message):
    text = GOOD.replace('{type: string, source: id}', field)
    [found] = problems(tmp_path, {'svc/a.yaml': text})
    assert found.endswith('payloads.P.fields.id.' + message)
