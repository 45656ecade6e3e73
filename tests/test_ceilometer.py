"""Ceilometer 27 judges the legacy notifications the relay makes of Nova's
versioned ones: its own event converter (tests/ceilometer_real/events.py,
in .venv-ceilometer, with the event definitions Ceilometer ships) makes
the same event with the same traits of them as of Nova 34's own legacy
twins, but for the traits of what the versioned payload does not carry."""

import shutil

import pytest

from tests import judges
from tests.conftest import MAPPINGS


@pytest.fixture(scope='module')
def result():
    return judges.compare_ceilometer(judges.nova_pairs())


def test_ceilometer_makes_the_same_events_and_traits(result):
    pairs = judges.nova_pairs()
    assert result['different'] == []
    assert result['events'] == len(pairs)
    assert result['equal'] > 1000
    print(judges.ceilometer_report(result))


def test_a_trait_left_out_is_of_a_key_the_mappings_say_is_not_carried(
        result):
    t = judges.translation.Translator.from_directory(MAPPINGS)
    listed = {path for rule in t.reverse_index.rules
              for path, _ in rule.writer.not_carried()}
    assert set(judges.CEILOMETER_NOT_CARRIED.values()) <= listed
    # the only one Nova's actions here give (its instance has no image
    # properties, which the os_* traits read)
    assert result['not_carried'] == result['events']


def test_a_value_lost_in_the_mapping_is_a_different_trait(tmp_path):
    copy = tmp_path / 'mappings'
    shutil.copytree(MAPPINGS, copy)
    flavor = copy / 'nova' / 'flavor.yaml'
    flavor.write_text(flavor.read_text().replace(
        'legacy: {key: instance_type}}', "legacy: {omit: pretend}}"))
    found = judges.compare_ceilometer(judges.nova_pairs(), mappings=copy)
    assert {name for _, name, _, _ in found['different']} == {
        'instance_type'}
