"""Translated Nova notifications, checked by Nova's own classes.

tests/nova_real/check.py runs in .venv-nova (Nova 34, made by .ci/setup)
and judges versioned notifications with Nova's real payload classes: it
must accept every translation of the Nova golden inputs, accept what Nova
itself sends, and refuse what Nova would not send.
"""

import copy
import json
import re
import subprocess

import orjson
import pytest

from tests.conftest import ROOT
from tests.judges import NOVA_PYTHON
from tests.test_golden import GOLDEN

CHECK = ROOT / 'tests' / 'nova_real' / 'check.py'
SAMPLES = ROOT / 'tests' / 'nova_real' / 'notification_samples'
CASES = sorted((GOLDEN / 'nova').glob('*.json'))


def run_check(notifications, tmp_path):
    if not NOVA_PYTHON.exists():
        pytest.fail('%s is missing: run .ci/setup, which creates the '
                    'virtualenv with Nova 34 that this check needs'
                    % NOVA_PYTHON.parent.parent)
    path = tmp_path / 'notifications.jsonl'
    path.write_text(''.join(json.dumps(n) + '\n' for n in notifications))
    return subprocess.run([str(NOVA_PYTHON), str(CHECK), str(path)],
                          capture_output=True, text=True, timeout=300)


def translations():
    """What the shipped mappings make of every translatable golden input."""
    from translator import translation
    from tests.conftest import MAPPINGS
    translator = translation.Translator.from_directory(MAPPINGS)
    out = []
    for case in CASES:
        spec = json.loads(case.read_text())
        if 'expected' in spec:
            outcome = translator.body_to_versioned(orjson.dumps(spec['input']))
            assert outcome.ok, '%s: %s' % (case.name, outcome.reason)
            out += outcome.notifications
    return out


def test_every_translated_golden_sample_is_a_nova_notification(tmp_path):
    notifications = translations()
    assert len(notifications) >= 25
    result = run_check(notifications, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '%d notifications checked, 0 with problems' % len(
        notifications) in result.stdout


def _resolved(node, folder):
    """A sample with its "$ref"s resolved (sibling keys override)."""
    if isinstance(node, list):
        return [_resolved(item, folder) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    if '$ref' in node:
        target = (folder / node['$ref'].split('#')[0]).resolve()
        out = _resolved(json.loads(target.read_text()), target.parent)
    over = {key: _resolved(value, folder) for key, value in node.items()
            if key != '$ref'}
    return _merge(out, over)


def _merge(base, over):
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merge(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


# Nova's own samples of the event families the translator emits (those of
# compute_task and scheduler are left out: Nova 34 ships them with an older
# ImageMetaPropsPayload version than its class has).
OWN_SAMPLES = [
    'instance-create-end.json', 'instance-create-error.json',
    'instance-reboot-error.json', 'instance-update.json',
    'instance-exists.json', 'instance-resize_prep-end.json',
    'instance-rebuild-end.json', 'instance-rescue-end.json',
    'instance-volume_attach-end.json', 'instance-evacuate.json',
    'keypair-import-start.json', 'server_group-add_member.json',
    'metrics-update.json', 'libvirt-connect-error.json',
    'volume-usage.json', 'compute-exception.json']


def test_the_check_accepts_what_nova_sends(tmp_path):
    samples = [_resolved(json.loads((SAMPLES / name).read_text()), SAMPLES)
               for name in OWN_SAMPLES]
    result = run_check(samples, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def _data(note):
    return note['payload']['nova_object.data']


def _flavor(note):
    return _data(note)['flavor']['nova_object.data']


MUTATIONS = [
    (lambda n: _data(n).pop('locked'), 'payload.locked: missing'),
    (lambda n: _flavor(n).update(bogus=1),
     'payload.flavor.bogus: not a field of FlavorPayload'),
    (lambda n: n['payload'].update({'nova_object.version': '1.12'}),
     'version 1.12, Nova 34 has 1.13'),
    (lambda n: _data(n).update(created_at='2016-08-19 10:20:49'),
     "created_at: '2016-08-19 10:20:49', expected '2016-08-19T10:20:49Z'"),
    (lambda n: _data(n).update(state='ACTIVE'),
     'does not deserialise: ValueError'),
    (lambda n: _data(n).update(auto_disk_config='no'),
     "'no' is not a DiskConfig"),
    (lambda n: n.update(publisher_id='compute.Node_0'),
     "publisher_id 'compute.Node_0' is not <NotificationSource>:<host>"),
    (lambda n: n.update(priority='ERROR'), "priority 'ERROR', Nova sends"),
    (lambda n: n.update(event_type='instance.create.done'),
     "phase 'done' is not a Nova NotificationPhase"),
    (lambda n: n['payload'].update({'nova_object.name': 'InstancePayload',
                                    'nova_object.version': '1.9'}),
     "Nova sends 'instance.create.end' with InstanceCreatePayload"),
]


def test_the_check_refuses_what_nova_would_not_send(tmp_path):
    good = next(n for n in translations()
                if n['event_type'] == 'instance.create.end')
    broken = []
    for mutate, _ in MUTATIONS:
        note = copy.deepcopy(good)
        mutate(note)
        broken.append(note)
    result = run_check(broken, tmp_path)
    assert result.returncode == 1
    # One report per refused notification: a "<file>:<line> ..." header
    # and its problems.
    reports = re.split(r'^\S+:\d+ ', result.stdout, flags=re.M)[1:]
    assert len(reports) == len(MUTATIONS)
    for report, (_, message) in zip(reports, MUTATIONS):
        assert message in report, report
