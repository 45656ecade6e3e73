"""Consumer contracts: the JSON Schemas and the AsyncAPI document that
``translator schema`` writes, kept current in doc/schema; the
compatibility of payload class changes with the last release
(doc/schema-released); the official AsyncAPI parser on the document.

Golden outputs and the relay's outputs in the end-to-end tests are
validated where those tests read them (tests/contracts.py).
"""

import json
import shutil
import subprocess
import sys

import amqp
import jsonschema
import pytest

from tests import contracts
from tests.conftest import ID, MAPPINGS, ROOT, legacy, write_mappings
from translator.contracts import compatibility
from translator import envelope
from translator.contracts import schema
from translator import translation
from translator.mapping import loader
from translator.mapping import spec

SCHEMA_DIR = ROOT / 'doc' / 'schema'
RELEASED = ROOT / 'doc' / 'schema-released'
PARSER = ROOT / '.ci' / 'asyncapi-parse.js'
REGENERATE = ('run `.venv/bin/translator schema` from the checkout and '
              'commit doc/schema/')

# A legacy value of every field type, as services send them.
SAMPLES = {
    'string': 7, 'int': '42', 'float': 1, 'bool': 'yes', 'uuid': ID,
    'datetime': '2016-08-19 10:20:49.5+00:00', 'ip_address': '2001:DB8::1',
    'mac_address': 'FA-16-3E-A3-C0-0F', 'dict_of_strings': {'a': 1},
    'list_of_strings': ['a', 2], 'object': {'id': ID},
    'list_of_objects': [{'id': ID}],
}


# A class that others nest.
PART = '''      PartPayload:
        version: "1.0"
        history: {"1.0": Initial version}
        fields:
          id: {type: uuid, source: id}
'''


def gadget_mappings():
    """A field of every type of the language, and the field rules that
    change what the schema says."""
    typed = '\n'.join(
        '          f_%s: {type: %s, source: f_%s%s}' % (
            kind, kind, kind,
            ', class: PartPayload' if kind in spec.OBJECT_TYPES else '')
        for kind in spec.FIELD_TYPES)
    return {'demo/gadget.yaml': '''
    payloads:
%s      GadgetPayload:
        version: "1.1"
        history: {"1.0": Initial version, "1.1": note was added}
        fields:
%s
          maybe: {type: string, source: maybe, nullable: true}
          size: {type: int, source: size, nullable: true, default: 0}
          color: {type: string, source: color, values: [red, blue]}
          fault: {type: string, source: fault, when: {event_type: '*.error'}}
          note: {type: string, source: note, nullable: true, since: "1.1",
                 present_if: note_set, otherwise: null}
    rules:
      - match: gadget.{phase}
        captures: {phase: [create, error]}
        event_type: gadget.{phase}
        publisher: gadget-{service}:{host}
        payload: GadgetPayload
      - match: part.audit
        event_type: part.audit
        priority: AUDIT
        payload: PartPayload
      - match: part.broken
        event_type: part.broken.error
        payload: PartPayload
''' % (PART, typed)}


@pytest.fixture
def gadgets(tmp_path):
    root = write_mappings(tmp_path / 'gadgets', gadget_mappings())
    return root, translation.Translator.from_directory(root)


def gadget(translator, event_type='gadget.create', priority='INFO',
           **payload):
    outcome = translator.to_versioned(legacy(event_type, dict(
        {'f_' + kind: value for kind, value in SAMPLES.items()},
        color='red', **payload), priority=priority))
    assert outcome.ok, outcome.reason
    [notification] = outcome.notifications
    return notification


def test_every_field_type_as_the_translator_writes_it(gadgets):
    root, translator = gadgets
    notification = gadget(translator)
    contracts.validate(notification, root)
    # as the relay sends it, beside the request context
    contracts.validate(dict(notification, _unique_id='0' * 32,
                            _context_request_id='req-1'), root)
    data = notification['payload']['demo_object.data']
    assert 'fault' not in data and data['note'] is None
    assert data['size'] == 0
    contracts.validate(gadget(translator, 'gadget.error', fault='boom',
                              note_set=1, note='n', size=3), root)


def _data(notification):
    return notification['payload']['demo_object.data']


@pytest.mark.parametrize('wrong', [
    lambda n: _data(n).update(f_uuid='not-a-uuid'),
    lambda n: _data(n).update(f_datetime='2016-08-19 10:20:49'),
    lambda n: _data(n).update(f_int='42'),
    lambda n: _data(n).update(f_int=2 ** 63),
    lambda n: _data(n).update(f_float='1.0'),
    lambda n: _data(n).update(f_bool='yes'),
    lambda n: _data(n).update(f_ip_address='1.2.3'),
    lambda n: _data(n).update(f_mac_address='FA:16:3E:A3:C0:0F'),
    lambda n: _data(n).update(f_dict_of_strings={'a': 1}),
    lambda n: _data(n).update(f_list_of_strings=[2]),
    lambda n: _data(n).update(f_object={'id': ID}),
    lambda n: _data(n)['f_list_of_objects'][0]['demo_object.data'].update(
        id='x'),
    lambda n: _data(n).update(f_string=None),
    lambda n: _data(n).update(size=None),
    lambda n: _data(n).update(color='green'),
    lambda n: _data(n).pop('f_string'),
    lambda n: _data(n).pop('note'),
    lambda n: _data(n).update(unknown=1),
    lambda n: n['payload'].update({'demo_object.name': 'PartPayload'}),
    lambda n: n.update(event_type='gadget.delete'),
    lambda n: n.update(publisher_id='compute.host1'),
    lambda n: n.update(message_id='5f1d6a5e-0c43-4d4e-9a52-0f6a3b2c1d00'),
    lambda n: n.pop('timestamp'),
    lambda n: n.update(extra=1),
], ids=['uuid', 'datetime form', 'int as text', 'int past 64 bits',
        'float as text', 'bool as text', 'ip', 'mac case', 'dict value',
        'list item', 'object not serialised', 'nested field', 'null',
        'null where a default fills', 'enum', 'missing', 'missing null',
        'unknown field', 'other class', 'event type', 'publisher',
        'message id not derived', 'no timestamp', 'unknown key'])
def test_a_wrong_notification_fails(gadgets, wrong):
    root, translator = gadgets
    notification = gadget(translator)
    wrong(notification)
    with pytest.raises(jsonschema.ValidationError):
        contracts.validate(notification, root)


def test_priority_fixed_or_by_error_suffix(gadgets):
    root, translator = gadgets
    [audit] = translator.to_versioned(legacy('part.audit', {'id': ID})
                                   ).notifications
    contracts.validate(audit, root)
    with pytest.raises(jsonschema.ValidationError):
        contracts.validate(dict(audit, priority='INFO'), root)
    contracts.validate(dict(audit, priority='ERROR'), root)


def _relayed(notification, routing_key, **body):
    wire = json.loads(envelope.wire_body(dict(
        notification, _unique_id=notification['message_id'].replace(
            '-', '')), {'_context_request_id': 'req-1'}))
    message = amqp.Message(json.dumps(dict(wire, **body)))
    message.delivery_info = {'routing_key': routing_key}
    return message


def test_relay_outputs_against_the_asyncapi_messages(gadgets):
    root, translator = gadgets
    notification = gadget(translator, priority='WARN')
    with contracts.translating_with(root):
        contracts.check_output(_relayed(notification,
                                        'versioned_notifications.warn'))
        for wrong, error in [
                (_relayed(notification, 'versioned_notifications.info'),
                 AssertionError),
                (_relayed(notification, 'versioned_notifications.warn',
                          **{'oslo.version': '1.0'}),
                 jsonschema.ValidationError),
                (_relayed(dict(notification, event_type='x'),
                          'versioned_notifications.warn'),
                 jsonschema.ValidationError)]:
            with pytest.raises(error):
                contracts.check_output(wrong)
        dead = amqp.Message(b'{', application_headers={
            'x-translator-outcome': 'lost', 'x-translator-reason': 'r',
            'x-translator-source-exchange': 'demo',
            'x-translator-source-routing-key': 'notifications.info'})
        dead.delivery_info = {'routing_key': 'notifications_dead_letter.info'}
        with pytest.raises(jsonschema.ValidationError):
            contracts.check_output(dead)


# doc/schema ----------------------------------------------------------------

def test_committed_schemas_are_current():
    stale = schema.check_all(loader.load_mapping_set(MAPPINGS), SCHEMA_DIR)
    assert stale == [], 'out of date: %s; %s' % (
        ', '.join(str(p) for p in stale), REGENERATE)


def test_schemas_of_versions_no_longer_sent_are_removed(gadgets, tmp_path):
    root, translator = gadgets
    out = tmp_path / 'schema'
    schema.write_all(translator.mapping_set, out)
    old = out / 'demo' / 'GadgetPayload-1.0.json'
    old.write_text('{}')
    assert schema.check_all(translator.mapping_set, out) == [old]
    schema.write_all(translator.mapping_set, out)
    assert not old.exists()
    assert schema.check_all(translator.mapping_set, out) == []


def test_every_schema_is_a_valid_2020_12_schema():
    for path in sorted(SCHEMA_DIR.glob('*/*.json')):
        jsonschema.Draft202012Validator.check_schema(
            json.loads(path.read_text()))


def _parse(path):
    assert (PARSER.parent / 'node_modules' / '@asyncapi' / 'parser').is_dir(
    ), 'the AsyncAPI parser is missing: run .ci/setup'
    result = subprocess.run(['node', str(PARSER), str(path)],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, [json.loads(line)
                               for line in result.stdout.splitlines()]


def test_the_asyncapi_document_parses():
    code, diagnostics = _parse(SCHEMA_DIR / 'asyncapi.json')
    assert code == 0 and not [d for d in diagnostics
                              if d['severity'] == 0], diagnostics


def test_the_asyncapi_parser_refuses_a_broken_document(tmp_path):
    shutil.copytree(SCHEMA_DIR, tmp_path, dirs_exist_ok=True)
    document = json.loads((SCHEMA_DIR / 'asyncapi.json').read_text())
    # a message whose schema is not there
    message = next(m for m in document['components']['messages'].values()
                   if 'properties' in m['payload'])
    message['payload']['properties']['oslo.message']['contentSchema'][
        '$ref'] = 'nova/Missing-1.0.json'
    (tmp_path / 'asyncapi.json').write_text(json.dumps(document))
    code, diagnostics = _parse(tmp_path / 'asyncapi.json')
    assert code == 1
    [error] = [d for d in diagnostics if d['severity'] == 0]
    assert error['code'] == 'invalid-ref'
    assert 'Missing-1.0.json' in error['message']


# Compatibility -------------------------------------------------------------

THING = '''
    payloads:
''' + PART + '''      ThingPayload:
        version: "1.2"
        history: {"1.0": a, "1.1": b, "1.2": c}
        fields:
          name: {type: string, source: name, doc: The name.}
          size: {type: int, source: size, nullable: true}
          state: {type: string, source: state, values: ["on", "off"]}
          part: {type: object, class: PartPayload, source: part}
    rules:
      - match: thing.update
        event_type: thing.update
        payload: ThingPayload
'''


def _classes(tmp_path, text):
    root = write_mappings(tmp_path / str(len(list(tmp_path.iterdir()))),
                          {'demo/thing.yaml': text})
    return compatibility.classes(schema.documents(
        loader.load_mapping_set(root)).values())


def _bump(text, version):
    return text.replace('version: "1.2"', 'version: "%s"' % version).replace(
        '"1.2": c}', '"1.2": c, "%s": d}' % version)


FIELD = '{type: string, source: name, doc: The name.}'
MAJOR, MINOR = compatibility.MAJOR, compatibility.MINOR
CHANGES = {
    'field removed': (
        MAJOR,
        lambda t: t.replace('name: %s' % FIELD, ''),
        'field name removed'),
    'type changed': (
        MAJOR, lambda t: t.replace('size: {type: int', 'size: {type: float'),
        'field size: type changed from {"type": "integer", "minimum": '
        '-9223372036854775808, "maximum": 9223372036854775807} to '
        '{"type": "number"}'),
    'nested class changed': (
        MAJOR, lambda t: t.replace('class: PartPayload', 'class: ThingPayload'),
        'field part: type changed'),
    'now nullable': (
        MAJOR, lambda t: t.replace(FIELD, FIELD[:-1] + ', nullable: true}'),
        'field name: was never null, may now be null'),
    'now conditional': (
        MAJOR, lambda t: t.replace(
            FIELD, FIELD[:-1] + ", when: {event_type: 'thing.*'}}"),
        'field name: was always there, may now be absent'),
    'field added': (
        MINOR, lambda t: t.replace(
            'name: %s' % FIELD, 'name: %s\n          color: '
            '{type: string, source: color}' % FIELD),
        'field color added'),
    'enum value added': (
        MINOR, lambda t: t.replace('"off"]', '"off", "broken"]'),
        'field state: values changed'),
    'never null now': (
        MINOR,
        lambda t: t.replace('size: {type: int, source: size, nullable: true}',
                            'size: {type: int, source: size, default: 0}'),
        'field size: is never null now'),
    'nested class version': (
        MINOR, lambda t: t.replace(PART, PART.replace(
            'version: "1.0"', 'version: "1.1"').replace(
            'version}', 'version, "1.1": x}') +
            '          x: {type: int, source: x, nullable: true}\n'),
        'field part: demo.PartPayload 1.0 became 1.1'),
}


@pytest.mark.parametrize('change', CHANGES)
def test_a_change_needs_its_version_bump(tmp_path, change):
    kind, edit, what = CHANGES[change]
    before = _classes(tmp_path, THING)
    assert edit(THING) != THING
    [problem] = compatibility.check(before, _classes(tmp_path, edit(THING)))
    assert problem.startswith('demo.ThingPayload 1.2 -> 1.2 needs a %s '
                              'version bump' % kind), problem
    assert what in problem
    minor = compatibility.check(before, _classes(tmp_path,
                                                 _bump(edit(THING), '1.3')))
    assert (minor != []) == (kind == MAJOR), minor
    assert compatibility.check(
        before, _classes(tmp_path, _bump(edit(THING), '2.0'))) == []


def test_descriptions_and_unchanged_classes_need_no_bump(tmp_path):
    before = _classes(tmp_path, THING)
    assert compatibility.check(before, _classes(
        tmp_path, THING.replace('doc: The name.', 'doc: Its name.'))) == []


def test_a_version_never_goes_down(tmp_path):
    before = _classes(tmp_path, _bump(THING, '1.3'))
    assert compatibility.check(before, _classes(tmp_path, THING)) == [
        'demo.ThingPayload 1.3 -> 1.2 needs no version below 1.3']


def test_the_shipped_set_is_compatible_with_the_last_release():
    assert compatibility.check(
        compatibility.load(RELEASED), compatibility.classes(
            schema.documents(loader.load_mapping_set(MAPPINGS)).values())
    ) == []


def test_schema_command_checks_compatibility(tmp_path):
    released = tmp_path / 'released'
    schema.write_all(loader.load_mapping_set(
        write_mappings(tmp_path / 'a', {'demo/thing.yaml': THING})), released)
    changed = write_mappings(tmp_path / 'b', {'demo/thing.yaml': THING.replace(
        'name: %s' % FIELD, '')})

    def run(*args):
        return subprocess.run(
            [sys.executable, '-m', 'translator.cli', '--mappings',
             str(changed), 'schema', *args], capture_output=True, text=True,
            timeout=60)
    result = run('--compatible-with', str(released))
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        'demo.ThingPayload 1.2 -> 1.2 needs a major version bump; field '
        'name removed\n')
    assert run('--compatible-with', str(tmp_path / 'none')).returncode == 2
