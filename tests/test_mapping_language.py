"""Each feature of the mapping language, on small mapping sets."""

import pytest

from translator import translation
from tests.conftest import legacy

UUID = '178b0921-8f85-4257-88b6-2e743b5a975c'

INSTANCE = '''
namespace: demo
payloads:
  FlavorPayload:
    version: "1.1"
    history: {"1.0": Initial version, "1.1": Added name}
    fields:
      flavorid: {type: string, source: instance_flavor_id}
      memory_mb: {type: int, source: memory_mb}
      name: {type: string, source: instance_type, since: "1.1"}
  IpPayload:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      address: {type: ip_address, source: address}
      mac: {type: mac_address, source: vif_mac}
      label: {type: string, source: label}
  FaultPayload:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      message: {type: string, source: message}
  BasePayload:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      uuid: {type: uuid, source: instance_id}
      host_name: {type: string, source: [hostname, display_name]}
  InstancePayload:
    version: "1.2"
    history: {"1.0": Initial version, "1.1": Added tags, "1.2": Added fault}
    extends: BasePayload
    fields:
      state: {type: string, source: state, values: [active, paused, error]}
      task_state: {type: string, source: state_description, nullable: true,
                   empty_as_null: true}
      progress: {type: int, source: progress, nullable: true}
      locked: {type: bool, source: locked, default: false}
      kind: {type: string, constant: server}
      vcpus: {type: float, source: vcpus, nullable: true}
      created_at: {type: datetime, source: created_at, nullable: true}
      launched_at: {type: datetime, source: launched_at, nullable: true}
      image_uuid: {type: string, source: image_ref_url, extract: '/([^/]+)$',
                   nullable: true}
      power: {type: string, source: power, case: lower,
              map: {'on': running, 'off': shutdown}, nullable: true}
      metadata: {type: dict_of_strings, source: metadata, default: {}}
      tags: {type: list_of_strings, source: tags, default: [], since: "1.1"}
      base_image: {type: string, source: image_meta.base_image_ref,
                   nullable: true}
      flavor: {type: object, class: FlavorPayload, source: .}
      ip_addresses: {type: list_of_objects, class: IpPayload,
                     source: fixed_ips, default: []}
      fault: {type: object, class: FaultPayload, source: ., nullable: true,
              when: {phase: error}, otherwise: null, since: "1.2"}
      volume_id: {type: string, source: volume_id, nullable: true,
                  present_if: volume_id}
      reason: {type: string, source: $phase, when: {event_type: '*.error'}}
rules:
  - match: compute.instance.{action}.{phase}
    exclude: [compute.instance.force_delete.*]
    captures:
      action: {finish_resize: resize_finish, delete: delete, force_delete: x,
               resize.confirm: resize_confirm}
      phase: [start, end, error]
    event_type: instance.{action}.{phase}
    publisher: nova-{service}:{host}
    payload: InstancePayload
  - match: compute.instance.exists
    event_type: instance.exists
    payload: InstancePayload
    priority: WARN
  - match: compute.instance.*
    event_type: instance.other
    payload: InstancePayload
'''


def payload(**overrides):
    base = {
        'instance_id': UUID, 'hostname': 'vm-1', 'display_name': 'VM 1',
        'state': 'active', 'state_description': '', 'progress': '',
        'instance_flavor_id': '1', 'memory_mb': 512, 'instance_type':
        'm1.tiny', 'created_at': '2016-08-19 10:20:49+00:00',
        'launched_at': '2016-08-19T10:20:59.135390',
        'image_ref_url': 'http://glance:9292/images/155d900f',
        'metadata': {'a': 'b', 'n': 1}, 'image_meta': {
            'base_image_ref': '155d900f'},
        'fixed_ips': [{'address': '192.168.1.197', 'vif_mac':
                       'FA-16-3E-A3-C0-0F', 'label': 'net'}],
        'message': 'boom', 'power': 'ON', 'vcpus': 2,
    }
    base.update(overrides)
    return base


@pytest.fixture
def translator(make_translator):
    return make_translator({'demo/instance.yaml': INSTANCE})


def one(translator, event_type, data, **kw):
    outcome = translator.to_versioned(legacy(event_type, data, **kw))
    assert outcome.kind == translation.TRANSLATED, outcome.reason
    assert len(outcome.notifications) == 1
    return outcome.notifications[0]


def data_of(notification):
    return notification['payload']['demo_object.data']


def test_every_field_value(translator):
    n = one(translator, 'compute.instance.delete.end', payload())
    d = data_of(n)
    assert d['uuid'] == UUID
    assert d['host_name'] == 'vm-1'
    assert d['state'] == 'active'
    assert d['task_state'] is None
    assert d['progress'] is None
    assert d['locked'] is False
    assert d['kind'] == 'server'
    assert d['vcpus'] == 2.0 and isinstance(d['vcpus'], float)
    assert d['created_at'] == '2016-08-19T10:20:49Z'
    assert d['launched_at'] == '2016-08-19T10:20:59Z'
    assert d['image_uuid'] == '155d900f'
    assert d['power'] == 'running'
    assert d['metadata'] == {'a': 'b', 'n': '1'}
    assert d['tags'] == []
    assert d['base_image'] == '155d900f'
    assert d['fault'] is None
    assert 'volume_id' not in d
    assert 'reason' not in d
    assert list(d) == ['uuid', 'host_name', 'state', 'task_state',
                       'progress', 'locked', 'kind', 'vcpus', 'created_at',
                       'launched_at', 'image_uuid', 'power', 'metadata',
                       'tags', 'base_image', 'flavor', 'ip_addresses',
                       'fault']


def test_nested_objects_and_envelope(translator):
    p = one(translator, 'compute.instance.delete.end', payload())['payload']
    assert p['demo_object.name'] == 'InstancePayload'
    assert p['demo_object.namespace'] == 'demo'
    assert p['demo_object.version'] == '1.2'
    assert set(p) == {'demo_object.name', 'demo_object.namespace',
                      'demo_object.version', 'demo_object.data'}
    flavor = p['demo_object.data']['flavor']
    assert flavor == {'demo_object.name': 'FlavorPayload',
                      'demo_object.namespace': 'demo',
                      'demo_object.version': '1.1',
                      'demo_object.data': {'flavorid': '1', 'memory_mb': 512,
                                           'name': 'm1.tiny'}}
    [ip] = p['demo_object.data']['ip_addresses']
    assert ip['demo_object.data'] == {'address': '192.168.1.197',
                                      'mac': 'fa:16:3e:a3:c0:0f',
                                      'label': 'net'}


def test_captures_renames_and_template(translator):
    n = one(translator, 'compute.instance.finish_resize.start', payload())
    assert n['event_type'] == 'instance.resize_finish.start'
    n = one(translator, 'compute.instance.resize.confirm.end', payload())
    assert n['event_type'] == 'instance.resize_confirm.end'


def test_capture_values_restrict_match(translator):
    # 'reboot' is not a listed action: the glob rule further down applies.
    n = one(translator, 'compute.instance.reboot.end', payload())
    assert n['event_type'] == 'instance.other'
    # a phase outside the list does not match the first rule either
    n = one(translator, 'compute.instance.delete.middle', payload())
    assert n['event_type'] == 'instance.other'


def test_exclusion_skips_rule(translator):
    n = one(translator, 'compute.instance.force_delete.end', payload())
    assert n['event_type'] == 'instance.other'


def test_exact_name_wins_over_earlier_glob(translator):
    n = one(translator, 'compute.instance.exists', payload())
    assert n['event_type'] == 'instance.exists'


def test_priority_rules(translator):
    n = one(translator, 'compute.instance.delete.error', payload(),
            priority='info')
    assert n['priority'] == 'ERROR'
    n = one(translator, 'compute.instance.delete.end', payload(),
            priority='debug')
    assert n['priority'] == 'DEBUG'
    n = one(translator, 'compute.instance.exists', payload())
    assert n['priority'] == 'WARN'


@pytest.mark.parametrize('publisher,expected', [
    ('compute.host1', 'nova-compute:host1'),
    ('compute:Node_0', 'nova-compute:Node_0'),
    ('compute.host1.example.org', 'nova-compute:host1.example.org'),
])
def test_publisher_template(translator, publisher, expected):
    n = one(translator, 'compute.instance.delete.end', payload(),
            publisher_id=publisher)
    assert n['publisher_id'] == expected


def test_default_publisher_is_kept(translator):
    n = one(translator, 'compute.instance.exists', payload(),
            publisher_id='compute.h9')
    assert n['publisher_id'] == 'compute.h9'


def test_conditions(translator):
    n = one(translator, 'compute.instance.delete.error', payload(
        volume_id='v1'))
    d = data_of(n)
    assert d['fault']['demo_object.data'] == {'message': 'boom'}
    assert d['reason'] == 'error'
    assert d['volume_id'] == 'v1'


def test_fallback_source(translator):
    d = data_of(one(translator, 'compute.instance.delete.end',
                    payload(hostname=None)))
    assert d['host_name'] == 'VM 1'
    d = data_of(one(translator, 'compute.instance.delete.end',
                    payload(hostname='')))
    # '' is a value for a string field unless empty_as_null says otherwise
    assert d['host_name'] == ''


def test_empty_string_is_null_for_non_strings(translator):
    d = data_of(one(translator, 'compute.instance.delete.end',
                    payload(created_at='', progress='', launched_at='')))
    assert d['created_at'] is None and d['launched_at'] is None
    assert d['progress'] is None


def test_ids_are_derived_and_timestamp_kept(translator):
    first = one(translator, 'compute.instance.delete.end', payload())
    again = one(translator, 'compute.instance.delete.end', payload())
    other = one(translator, 'compute.instance.delete.end', payload(),
                message_id='a-different-id')
    assert first['message_id'] == again['message_id']
    assert first['message_id'] != other['message_id']
    assert first['message_id'] != '5f1d6a5e-0c43-4d4e-9a52-0f6a3b2c1d00'
    assert first['timestamp'] == '2016-08-19 10:20:59.279903'
    assert list(first) == ['message_id', 'publisher_id', 'event_type',
                           'priority', 'payload', 'timestamp']


@pytest.mark.parametrize('overrides,path,reason', [
    ({'instance_id': None}, 'uuid', 'missing or null (source instance_id)'),
    ({'instance_id': 'nope'}, 'uuid', "not a UUID: 'nope'"),
    ({'state': 'ACTIVE'}, 'state', "'ACTIVE' is not one of"),
    ({'memory_mb': 'lots'}, 'flavor.memory_mb', "not an integer: 'lots'"),
    ({'memory_mb': []}, 'flavor.memory_mb', 'not an integer: []'),
    ({'created_at': 'yesterday'}, 'created_at', "not a date: 'yesterday'"),
    ({'created_at': '9999-12-31T23:59:59-01:00'}, 'created_at',
     "date beyond year 9999 in UTC: '9999-12-31T23:59:59-01:00'"),
    ({'fixed_ips': [{'address': '1.2.3.4', 'vif_mac': 'zz', 'label': 'n'}]},
     'ip_addresses[0].mac', "not a MAC address: 'zz'"),
    ({'fixed_ips': ['x']}, 'ip_addresses[0]', 'not an object: str'),
    ({'fixed_ips': {}}, 'ip_addresses', 'not a list: dict'),
    ({'metadata': {'a': None}}, 'metadata', "null value for key 'a'"),
    ({'locked': 'maybe'}, 'locked', "not a boolean: 'maybe'"),
])
def test_invalid_names_field_and_reason(translator, overrides, path, reason):
    outcome = translator.to_versioned(legacy('compute.instance.delete.end',
                                          payload(**overrides)))
    assert outcome.kind == translation.INVALID
    assert 'field %s: %s' % (path, reason) in outcome.reason
    assert outcome.reason.startswith('InstancePayload: ')
    assert 'instance.yaml rule 0' in outcome.reason


def test_unmapped(translator):
    outcome = translator.to_versioned(legacy('aggregate.create.start', {}))
    assert outcome.kind == translation.UNMAPPED
    assert "'aggregate.create.start'" in outcome.reason


def test_continue_gives_several_notifications(make_translator):
    t = make_translator({'svc/a.yaml': '''
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
            continue: true
          - match: thing.*
            event_type: thing.audit
            payload: P
          - match: thing.*
            event_type: never.reached
            payload: P
    '''})
    outcome = t.to_versioned(legacy('thing.done', {'id': 'x'}))
    assert [n['event_type'] for n in outcome.notifications] == [
        'thing.done', 'thing.audit']
    ids = {n['message_id'] for n in outcome.notifications}
    assert len(ids) == 2
    assert outcome.notifications[0]['payload']['svc_object.namespace'] == \
        'svc'


def test_malformed_raw_input(translator):
    for raw, reason in [
            (b'{', 'not valid JSON'),
            (b'[1]', 'not a JSON object'),
            (b'{"oslo.version": "1.0", "oslo.message": "{}"}',
             "unsupported oslo.version '1.0'"),
            (b'{"oslo.version": "2.0", "oslo.message": "{"}',
             'oslo.message is not valid JSON'),
            (b'{"oslo.version": "2.0", "oslo.message": {}}',
             'oslo.message is not a JSON string'),
            (b'{"payload": {}, "publisher_id": "x"}', 'event_type is missing'),
            (b'{"event_type": "a", "payload": [], "publisher_id": "x"}',
             'payload is not a JSON object')]:
        outcome = translator.body_to_versioned(raw)
        assert outcome.kind == translation.MALFORMED
        assert reason in outcome.reason, raw


def test_untranslated_events_give_their_reason(make_translator):
    t = make_translator({'svc/a.yaml': '''
        untranslated:
          - match: [thing.force_*, thing.gone]
            reason: no versioned equivalent in the service
    '''})
    outcome = t.to_versioned(legacy('thing.force_delete.end', {}))
    assert outcome.kind == translation.UNMAPPED
    assert outcome.reason == ("event type 'thing.force_delete.end' is not "
                              "translated: no versioned equivalent in the "
                              "service")
    outcome = t.to_versioned(legacy('thing.other', {}))
    assert outcome.reason == "no rule matches event type 'thing.other'"


def test_derived_ids_are_uuid5():
    import uuid
    from translator import envelope
    for source, index in [('abc', 0), ('5f1d6a5e-0c43-4d4e', 3),
                          ('ünïcode', 12)]:
        assert envelope.derived_id(source, index) == str(uuid.uuid5(
            envelope.ID_NAMESPACE, '%s/%d' % (source, index)))


COMPOSED = '''
payloads:
  Flavor:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      name: {type: string, source: instance_type}
      memory_mb: {type: int, source: memory_mb, nullable: true}
  Resize:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      flavor: {type: object, class: Flavor, source: .}
      new_flavor: {type: object, class: Flavor, nullable: true,
                   compose: {instance_type: [new_instance_type, new_name]},
                   present_if: [new_instance_type, new_name],
                   otherwise: null}
      numa: {type: string, source: numa_topology, nullable: true,
             reject: NUMA topologies are not translated}
rules:
  - match: resize
    event_type: resize
    payload: Resize
'''


def test_compose_builds_a_nested_object_from_other_keys(make_translator):
    t = make_translator({'svc/a.yaml': COMPOSED})
    n = one(t, 'resize', {'instance_type': 'm1.small', 'memory_mb': 2048,
                          'new_instance_type': 'm1.large'})
    d = n['payload']['svc_object.data']
    assert d['flavor']['svc_object.data'] == {'name': 'm1.small',
                                             'memory_mb': 2048}
    # Only the composed keys reach the nested class: not the old memory.
    assert d['new_flavor']['svc_object.data'] == {'name': 'm1.large',
                                                 'memory_mb': None}
    d = one(t, 'resize', {'instance_type': 'a', 'new_name': 'b'})[
        'payload']['svc_object.data']
    assert d['new_flavor']['svc_object.data']['name'] == 'b'
    d = one(t, 'resize', {'instance_type': 'a'})['payload']['svc_object.data']
    assert d['new_flavor'] is None


@pytest.mark.parametrize('numa', [None, ''])
def test_reject_without_a_value_is_null(make_translator, numa):
    t = make_translator({'svc/a.yaml': COMPOSED.replace('type: string, '
                                                        'source: numa',
                                                        'type: int, source: '
                                                        'numa')})
    d = one(t, 'resize', {'instance_type': 'a', 'numa_topology': numa})[
        'payload']['svc_object.data']
    assert d['numa'] is None


def test_reject_with_a_value_is_invalid_with_the_reason(make_translator):
    t = make_translator({'svc/a.yaml': COMPOSED})
    outcome = t.to_versioned(legacy('resize', {
        'instance_type': 'a', 'numa_topology': {'cells': []}}))
    assert outcome.kind == translation.INVALID
    assert ('Resize: field numa: NUMA topologies are not translated '
            '(source numa_topology)') in outcome.reason


@pytest.mark.parametrize('field,message', [
    ('{type: string, compose: {a: b}}', 'only object fields take it'),
    ('{type: object, class: Flavor, source: ., compose: {a: b}}',
     'only object fields take it'),
    ('{type: string, source: n, reject: unsupported}', 'needs a source, no default'),
    ('{type: string, source: n, nullable: true, default: x, reject: unsupported}',
     'needs a source, no default'),
])
def test_compose_and_reject_are_checked(make_translator, field, message):
    from translator.mapping import loader
    text = COMPOSED.replace(
        '''{type: string, source: numa_topology, nullable: true,
             reject: NUMA topologies are not translated}''', field)
    with pytest.raises(loader.MappingError) as caught:
        make_translator({'svc/a.yaml': text})
    assert message in str(caught.value)


CONTEXT = '''
namespace: svc
payloads:
  Action:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      request_id: {type: string, source: $context.request_id, nullable: true,
                   present_if: $context.user_id, otherwise: null}
      user: {type: string, source: [$context.user_id, user_id],
             nullable: true}
rules:
  - match: act
    event_type: act
    payload: Action
'''


def test_context_sources_read_the_request_context(make_translator):
    t = make_translator({'svc/a.yaml': CONTEXT})
    d = one(t, 'act', {'user_id': 'from-payload'},
            _context_request_id='req-1', _context_user_id='u1')[
        'payload']['svc_object.data']
    assert d == {'request_id': 'req-1', 'user': 'u1'}
    # a context without a user: no request id; the payload is the fallback
    d = one(t, 'act', {'user_id': 'from-payload'},
            _context_request_id='req-2', _context_user_id=None)[
        'payload']['svc_object.data']
    assert d == {'request_id': None, 'user': 'from-payload'}
    d = one(t, 'act', {})['payload']['svc_object.data']
    assert d == {'request_id': None, 'user': None}


UNQUOTED = r'''
namespace: svc
payloads:
  Fault:
    version: "1.0"
    history: {"1.0": Initial version}
    fields:
      message: {type: string, source: exception, extract: '^\w+\((.*)\)$',
                unquote: python, nullable: true}
rules:
  - match: fault
    event_type: fault
    payload: Fault
'''


@pytest.mark.parametrize('error', [
    ValueError('two\nlines'), ValueError("it's"),
    ValueError('it\'s "quoted"\tand \\ escaped'), ValueError('Ünïcødé ✓'),
    ValueError(''),
])
def test_unquote_gives_the_text_a_python_literal_stands_for(
        make_translator, error):
    t = make_translator({'svc/a.yaml': UNQUOTED})
    d = one(t, 'fault', {'exception': repr(error)})[
        'payload']['svc_object.data']
    assert d['message'] == str(error)


@pytest.mark.parametrize('text', [
    'ValueError(1)', "ValueError(b'x')", "ValueError('open)",
    "ValueError('a' + 'b')", "ValueError(__import__('os'))"])
def test_unquote_of_anything_but_a_string_literal_is_null(make_translator,
                                                          text):
    t = make_translator({'svc/a.yaml': UNQUOTED})
    d = one(t, 'fault', {'exception': text})['payload']['svc_object.data']
    assert d['message'] is None
