"""Nova 34 judges the translation of what Nova 34 itself sends.

tests/nova_real/emit.py (in .venv-nova) calls Nova's own emitting
functions with notification_format = both and hands back each legacy
notification with its versioned twin; every field of the translated legacy
one must equal Nova's versioned one, unless judges.NOVA_EXCUSES says why a
legacy message cannot carry it, and that excuse must hold.
"""

import shutil

import pytest

from tests import judges
from tests.conftest import MAPPINGS


@pytest.fixture(scope='module')
def pairs():
    return judges.nova_pairs()


def test_every_action_gives_one_legacy_and_one_versioned_notification(
        pairs):
    assert len(pairs) >= 70
    for pair in pairs:
        assert [len(pair['legacy']), len(pair['versioned'])] == [1, 1], (
            pair['action'])
    # Every instance event family the mappings translate is judged.
    produced = {p['versioned'][0]['event_type'].split('.')[1]
                for p in pairs}
    assert {'create', 'delete', 'rebuild', 'rebuild_scheduled', 'rescue',
            'resize_prep', 'volume_attach', 'volume_detach', 'exists',
            'evacuate', 'update', 'resize_finish', 'live_migration_abort',
            } <= produced


def test_translations_equal_novas_own_versioned_notifications(pairs):
    result = judges.compare_nova(pairs)
    assert result['untranslated'] == []
    assert result['different'] == []
    assert result['false_excuses'] == []
    print(judges.nova_report(result, pairs))


def test_every_excuse_is_needed(pairs):
    used = judges.compare_nova(pairs)['used_excuses']
    assert set(judges.NOVA_EXCUSES) == used


def _mappings_with(tmp_path, old, new):
    copy = tmp_path / 'mappings'
    shutil.copytree(MAPPINGS, copy)
    path = copy / 'nova' / 'instance.yaml'
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return copy


def test_a_lost_value_is_a_difference_and_cannot_be_excused(pairs, tmp_path):
    mappings = _mappings_with(
        tmp_path, 'display_name: {type: string, source: display_name,',
        'display_name: {type: string, constant: null,')
    result = judges.compare_nova(pairs, mappings=mappings)
    assert {p for _, p, _, _ in result['different']} == {'display_name'}
    excuses = dict(judges.NOVA_EXCUSES, display_name='pretend')
    result = judges.compare_nova(pairs, excuses, mappings)
    assert result['different'] == []
    assert {p for _, p, _ in result['false_excuses']} == {'display_name'}
