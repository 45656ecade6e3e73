"""Nova 34 judges the translation of what Nova 34 itself sends, in both
directions.

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


def test_novas_versioned_read_back_equals_its_own_legacy_twin(pairs):
    """Versioned to legacy: every key of Nova's legacy twin that the
    versioned payload carries is equal (dates to the second, in Nova's
    form for that field); every other is listed as not carried by the
    mapping; nothing is written that Nova's twin lacks, but for the
    excused extras."""
    result = judges.compare_nova_reverse(pairs)
    assert result['untranslated'] == []
    assert result['different'] == []
    assert result['invented'] == []
    assert result['equal'] > 2000
    print(judges.nova_reverse_report(result, pairs))


def test_every_key_listed_as_not_carried_is_needed(pairs):
    result = judges.compare_nova_reverse(pairs)
    t = judges.translation.Translator.from_directory(MAPPINGS)
    listed = {path for rule in t.reverse_index.rules
              for path, _ in rule.writer.not_carried()}
    assert listed == result['used_not_carried']
    assert set(judges.NOVA_REVERSE_EXTRAS) == result['used_extras']


@pytest.mark.parametrize('old,new,paths', [
    ('legacy: {key: instance_type}', "legacy: {omit: 'pretend'}",
     {'instance_type', 'new_instance_type'}),
    ("legacy: {date: '%Y-%m-%d %H:%M:%S+00:00'}",
     "legacy: {date: '%Y-%m-%dT%H:%M:%S'}", {'created_at'}),
])
def test_a_value_lost_or_misformed_read_back_is_a_difference(
        pairs, tmp_path, old, new, paths):
    copy = tmp_path / 'mappings'
    shutil.copytree(MAPPINGS, copy)
    for name in ('instance.yaml', 'flavor.yaml'):
        target = copy / 'nova' / name
        target.write_text(target.read_text().replace(old, new))
    result = judges.compare_nova_reverse(pairs, mappings=copy)
    assert {p for _, p, _, _ in result['different']} == paths
