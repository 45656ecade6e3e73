"""Trove: what Trove 26's own notification code sends translates without
legacy names and without losing a value, and the two legacy streams never
share an event type.

The inputs come from tests/trove_real/emit.py, which runs Trove's
notification classes and context managers in .venv-trove as its API, task
manager, guest agent and conductor call them (judges.trove_scenarios).
Every value of every legacy payload must appear in the translation or be
one of judges.TROVE_DROPS, with its reason.
"""

import json
import pathlib
import re
import shutil

import pytest

from tests import judges
from tests.conftest import MAPPINGS
from translator import envelope

GOLDEN = sorted((pathlib.Path(__file__).parent / 'golden' / 'trove')
                .glob('*.json'))
#: The usage stream's event types (all others are API actions).
USAGE = {'trove.instance.create', 'trove.instance.modify_flavor',
         'trove.instance.delete', 'dbaas.quota'}

#: Keys no versioned payload may have: the legacy names seed 000 rejects
#: and the legacy exception attribute (the fault object replaces it).
LEGACY_NAME = re.compile(r'^(nova_.*|instance_type.*|.*instance_size.*'
                         r'|state_description|exception)$')


@pytest.fixture(scope='module')
def scenarios():
    return judges.trove_scenarios()


@pytest.fixture(scope='module')
def result(scenarios):
    # The Trove set alone: it must not need another service's classes.
    return judges.compare_trove(scenarios, mappings=MAPPINGS / 'trove')


def _legacy_types(scenarios):
    return {m['event_type'] for s in scenarios for m in s['messages']}


#: Cluster actions Trove carries out member by member: the members'
#: instance events report them, the cluster's own end never comes.
MEMBERWISE = {'cluster_restart', 'cluster_upgrade',
              'cluster_attach_configuration', 'cluster_detach_configuration'}


def test_trove_sends_every_api_action_and_usage_event(scenarios):
    sent = _legacy_types(scenarios)
    assert USAGE <= sent
    for action in judges.trove_declared_actions():
        phases = ('start',) if action in MEMBERWISE else (
            'start', 'end', 'error')
        for phase in phases:
            assert 'dbaas.%s.%s' % (action, phase) in sent, (action, phase)


def test_every_value_is_kept_or_deliberately_dropped(result):
    assert result['untranslated'] == []
    assert result['lost'] == []
    print(judges.trove_report(result))


def test_every_drop_is_needed(result):
    assert set(judges.TROVE_DROPS) == result['used_drops']


#: The golden cases include what older releases send (Trove 26 no longer
#: sends trove.instance.modify_volume).
OLDER_DROPS = dict(judges.TROVE_DROPS, **{
    'availability_zone@trove.instance.modify_volume':
        'the zone is given on create only (seed 000)'})


@pytest.mark.parametrize('path', GOLDEN, ids=[p.name for p in GOLDEN])
def test_golden_input_keeps_its_values(path):
    legacy = envelope.unwrap(json.loads(path.read_text())['input'])
    out = judges.compare_trove([{'scenario': path.name,
                                 'messages': [legacy]}], OLDER_DROPS)
    assert out['untranslated'] == [] and out['lost'] == []


def test_no_legacy_names_fault_and_priority_only_on_errors(result):
    for legacy, n in result['notifications']:
        names = [k for k in judges.keys(n['payload'])
                 if LEGACY_NAME.match(k)]
        assert names == [], (legacy['event_type'], names)
        data = n['payload']['trove_object.data']
        is_error = n['event_type'].endswith('.error')
        # Trove sends its errors at INFO; they come out at ERROR.
        assert legacy['priority'] == 'INFO'
        assert ('fault' in data) == is_error, n['event_type']
        assert (n['priority'] == 'ERROR') == is_error, n['event_type']


def test_streams_never_share_a_versioned_event_type(result):
    versioned = {}
    for legacy, n in result['notifications']:
        versioned.setdefault(legacy['event_type'], set()).add(
            n['event_type'])
    # One versioned type per legacy type: no step arrives twice under one
    # name, from one stream or from both.
    assert all(len(types) == 1 for types in versioned.values())
    names = [t for types in versioned.values() for t in types]
    assert len(set(names)) == len(names)
    usage = {t for legacy in USAGE for t in versioned[legacy]}
    api = set(names) - usage
    assert all(t.endswith(('.start', '.end', '.error')) for t in api)
    assert not any(t.endswith(('.start', '.end', '.error')) for t in usage)


def test_a_lost_value_is_caught(scenarios, tmp_path):
    copy = tmp_path / 'mappings'
    shutil.copytree(MAPPINGS / 'trove', copy)
    path = copy / 'instance.yaml'
    text = path.read_text()
    assert 'present_if: cluster_id' in text
    path.write_text(text.replace('present_if: cluster_id',
                                 'present_if: no_such_key'))
    out = judges.compare_trove(scenarios, mappings=copy)
    assert out['untranslated'] == []
    assert {(e.split('.')[1], k) for _, e, k, _ in out['lost']} == {
        ('instance_restart', 'cluster_id'), ('upgrade', 'cluster_id'),
        ('instance_attach_configuration', 'cluster_id'),
        ('instance_detach_configuration', 'cluster_id')}
