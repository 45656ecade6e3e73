"""Trove: every legacy event type translates without legacy names and
without losing a value, and the two legacy streams never share an event type.

The checks run on every golden input under ``golden/trove`` and on one
message per legacy event type of the reference README (``LEGACY`` below),
built from the keys the README lists, so a type without a golden case is
covered too.
"""

import json
import pathlib
import re
import uuid

import pytest

from tests import judges
from tests.conftest import MAPPINGS, REFERENCE
from translator import envelope
from translator import translate

GOLDEN = sorted((pathlib.Path(__file__).parent / 'golden' / 'trove')
                .glob('*.json'))

# The legacy Trove event types of the reference README and their payload
# keys, optional ones included.
USAGE_KEYS = ['created_at', 'name', 'instance_id', 'instance_name',
              'instance_type_id', 'launched_at', 'nova_instance_id',
              'region', 'state', 'state_description', 'tenant_id', 'user_id',
              'instance_type', 'service_id', 'instance_size',
              'availability_zone', 'volume_size', 'nova_volume_id']
USAGE = {
    'trove.instance.create': USAGE_KEYS,
    'trove.instance.modify_flavor': USAGE_KEYS + ['old_instance_size',
                                                  'modify_at'],
    'trove.instance.modify_volume': USAGE_KEYS + ['old_volume_size',
                                                  'modify_at'],
    'trove.instance.delete': USAGE_KEYS + ['deleted_at'],
    'trove.instance.exists': [
        'audit_period_beginning', 'audit_period_ending', 'created_at',
        'display_name', 'instance_id', 'instance_name', 'instance_type_id',
        'launched_at', 'nova_instance_id', 'region', 'state_description',
        'state', 'tenant_id', 'service_id', 'instance_type', 'user_id'],
    'dbaas.quota': ['resource', 'in_use', 'reserved', 'limit', 'updated'],
}
API_BASE = ['tenant_id', 'client_ip', 'server_ip', 'server_type',
            'request_id']
API_ERROR = ['message', 'exception']
_INSTANCE = ['instance_id']
_CLUSTER = ['cluster_id']
_USER = ['instance_id', 'username']
#: action: (start keys, end keys)
ACTIONS = {
    'instance_create': (
        ['name', 'flavor_id', 'datastore', 'datastore_version', 'image_id',
         'availability_zone', 'region_name', 'databases', 'users',
         'volume_size', 'restore_point', 'replica_of', 'replica_count',
         'cluster_id', 'backup_id', 'nics'], ['instance_id']),
    **{action: (_INSTANCE, []) for action in (
        'instance_reboot', 'instance_restart', 'instance_promote',
        'instance_eject', 'instance_delete', 'instance_reset_status',
        'instance_detach', 'instance_detach_configuration')},
    'instance_resize_volume': (['instance_id', 'new_size'], []),
    'instance_resize_instance': (['instance_id', 'new_flavor_id'], []),
    'instance_attach_configuration': (['instance_id', 'configuration_id'],
                                      []),
    'upgrade': (['instance_id', 'datastore_version_id'], []),
    'migrate': (['host'], []),
    'cluster_create': (['name', 'datastore', 'datastore_version'],
                       ['cluster_id']),
    **{action: (_CLUSTER, []) for action in (
        'cluster_delete', 'cluster_restart', 'cluster_reset_status',
        'cluster_add_shard', 'cluster_detach_configuration')},
    'cluster_upgrade': (['cluster_id', 'datastore_version'], []),
    'cluster_attach_configuration': (['cluster_id', 'configuration_id'], []),
    'cluster_grow': (['cluster_id', 'instance_ids'], ['cluster_id']),
    'cluster_shrink': (['cluster_id', 'instance_ids'], ['cluster_id']),
    'backup_create': (['name', 'instance_id', 'description', 'parent_id'],
                      ['backup_id']),
    'backup_delete': (['backup_id'], []),
    'database_create': (['instance_id', 'dbname'], []),
    'database_delete': (['instance_id', 'dbname'], []),
    **{action: (_USER, []) for action in (
        'user_create', 'user_delete', 'user_update_attributes',
        'user_change_password')},
    'user_grant': (_USER + ['database'], []),
    'user_revoke': (_USER + ['database'], []),
    'configuration_create': (['name', 'datastore', 'datastore_version'],
                             ['configuration_id']),
    'configuration_delete': (['configuration_id'], []),
    'configuration_edit': (['configuration_id'], []),
    'configuration_update': (['configuration_id', 'name', 'description'],
                             []),
}


def _api_payload_keys(phase, start, end):
    # Trove re-sends the whole accumulated payload: start keys come again
    # in the end and error events.
    return API_BASE + start + {'start': [], 'end': end,
                               'error': API_ERROR}[phase]


LEGACY = dict(USAGE, **{
    'dbaas.%s.%s' % (action, phase): _api_payload_keys(phase, start, end)
    for action, (start, end) in ACTIONS.items()
    for phase in ('start', 'end', 'error')})


def _id(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


# One value per key, each different from the others unless Trove itself
# repeats a value under two keys, so a value that gets lost cannot hide
# behind another key's.
SAMPLES = {
    'created_at': '2016-08-19 10:20:49', 'launched_at': '2016-08-19T10:20:59',
    'deleted_at': '2016-08-20T08:00:01', 'modify_at': '2016-08-21 09:30:00',
    'audit_period_beginning': '2016-08-19T10:00:00Z',
    'audit_period_ending': '2016-08-19T11:00:00Z',
    'updated': '2016-08-19T10:30:00.000000',
    # Trove sends the instance name three times.
    'name': 'db1', 'instance_name': 'db1', 'display_name': 'db1',
    'instance_id': _id('instance'), 'nova_instance_id': _id('server'),
    'nova_volume_id': _id('volume'), 'instance_type_id': '7',
    'instance_type': 'm1.small', 'instance_size': 2048,
    'old_instance_size': 1024, 'region': 'RegionOne',
    'state': 'ACTIVE', 'state_description': 'ACTIVE', 'tenant_id': 'tenant-1',
    'user_id': 'user-1', 'service_id': 'unknown-service-id-error',
    'availability_zone': 'az-1', 'volume_size': 5, 'old_volume_size': 4,
    'resource': 'instances', 'in_use': 3, 'reserved': 1, 'limit': 10,
    'client_ip': '10.0.0.5', 'server_ip': 'trove-api.example.org:8779',
    'server_type': 'taskmanager', 'request_id': 'req-1',
    'flavor_id': '8', 'new_flavor_id': '9', 'new_size': 6,
    'datastore': 'mysql',
    # A version name on create, the version's id on cluster upgrade: an id
    # is a valid value of both.
    'datastore_version': _id('datastore version'),
    'datastore_version_id': _id('datastore version by id'),
    'image_id': _id('image'), 'region_name': 'RegionTwo',
    'databases': [{'name': 'sales', 'character_set': 'utf8',
                   'collate': 'utf8_bin'}],
    'users': [{'name': 'app', 'host': '%',
               'databases': [{'name': 'orders'}]}],
    # The restore point is the backup restored from: the same id.
    'backup_id': _id('backup'), 'restore_point': {'backupRef': _id('backup')},
    'replica_of': _id('replica source'), 'replica_count': 2,
    'cluster_id': _id('cluster'), 'nics': [{'network_id': _id('network')}],
    'configuration_id': _id('configuration'), 'host': 'compute-3',
    'instance_ids': [_id('member 1'), _id('member 2')],
    'description': 'nightly', 'parent_id': _id('parent backup'),
    'dbname': 'sales.orders', 'username': 'app,report',
    'database': ['reports', 'archive'], 'message': 'boom',
    'exception': ['Traceback (most recent call last):\n',
                  'trove.common.exception.TroveError: boom\n'],
}

#: Keys no versioned payload may have: the legacy names seed 000 rejects
#: and the legacy exception attribute (the fault object replaces it).
LEGACY_NAME = re.compile(r'^(nova_.*|instance_type.*|.*instance_size.*'
                         r'|state_description|exception)$')
#: Trove's placeholder for "no service id", translated to null.
NULL_SENTINELS = {'unknown-service-id-error'}
_AZ_ON_CREATE_ONLY = {'trove.instance.delete', 'trove.instance.modify_flavor',
                      'trove.instance.modify_volume'}


def _dropped(legacy_event_type, key):
    """Whether the versioned payload leaves out a legacy key on purpose."""
    # state_description repeats state; seed 000 wants the availability
    # zone on create events only.
    return key == 'state_description' or (
        key == 'availability_zone'
        and legacy_event_type in _AZ_ON_CREATE_ONLY)


@pytest.fixture(scope='module')
def trove():
    # The Trove set alone: it must not need another service's classes.
    return translate.Translator.from_directory(MAPPINGS / 'trove')


def _message(event_type, payload):
    return {'message_id': _id(event_type), 'event_type': event_type,
            'payload': payload, 'priority': 'INFO',
            'timestamp': '2016-08-19 10:20:59.279903',
            'publisher_id': ('trove-host-1' if event_type in USAGE
                             else 'taskmanager.trove-host-1')}


def _translate(trove, message):
    outcome = trove.translate(envelope.from_message(message))
    assert outcome.ok, outcome.reason
    return outcome.notifications


def _check(trove, message):
    """Every property a translated Trove message must have."""
    notifications = _translate(trove, message)
    event_type = message['event_type']
    kept = {judges.comparable(v) for n in notifications
            for v in judges.scalars(n)}
    for key, value in message['payload'].items():
        if _dropped(event_type, key):
            continue
        for leaf in judges.scalars(value):
            if leaf not in NULL_SENTINELS:
                assert judges.comparable(leaf) in kept, (event_type, key,
                                                         leaf)
    for n in notifications:
        names = [k for k in judges.keys(n['payload'])
                 if LEGACY_NAME.match(k)]
        assert names == [], (event_type, names)
        data = n['payload']['trove_object.data']
        is_error = n['event_type'].endswith('.error')
        assert ('fault' in data) == is_error, n['event_type']
        assert (n['priority'] == 'ERROR') == is_error, n['event_type']
    return notifications


def _golden_message(path):
    return envelope.unwrap(json.loads(path.read_text())['input'])


@pytest.mark.parametrize('path', GOLDEN, ids=[p.name for p in GOLDEN])
def test_golden_input_keeps_its_values_without_legacy_names(trove, path):
    _check(trove, _golden_message(path))


@pytest.mark.parametrize('event_type', sorted(LEGACY))
def test_every_legacy_event_type_translates(trove, event_type):
    payload = {key: SAMPLES[key] for key in LEGACY[event_type]}
    [notification] = _check(trove, _message(event_type, payload))
    assert notification['event_type'].split('.')[0] in {
        'instance', 'cluster', 'backup', 'configuration', 'database', 'user',
        'quota'}


def _versioned_event_types(trove):
    return {legacy: n['event_type']
            for legacy, keys in LEGACY.items()
            for n in _translate(trove, _message(
                legacy, {key: SAMPLES[key] for key in keys}))}


def test_streams_never_share_a_versioned_event_type(trove):
    versioned = _versioned_event_types(trove)
    # One versioned type per legacy type: no step arrives twice under one
    # name, from one stream or from both.
    assert len(set(versioned.values())) == len(versioned)
    usage = {versioned[t] for t in USAGE}
    api = {t for legacy, t in versioned.items() if legacy not in USAGE}
    assert all(t.endswith(('.start', '.end', '.error')) for t in api)
    assert not any(t.endswith(('.start', '.end', '.error')) for t in usage)


def test_every_legacy_event_type_of_the_reference_is_listed():
    readme = REFERENCE / 'README.md'
    if not readme.is_file():
        pytest.skip('no reference material next to this checkout')
    section = readme.read_text().split('\n## Trove\n')[1].split('\n## ')[0]
    usage = set(re.findall(r'^\| (trove\.instance\.\w+|dbaas\.quota)\b',
                           section, re.M))
    table = section.split('| action |')[1]
    actions = {name for cell in re.findall(r'^\| ([a-z_, ]+) \|', table,
                                           re.M)
               for name in cell.split(', ')}
    assert usage == set(USAGE)
    assert actions == set(ACTIONS)
