"""translator.relay.changes: what counts as already emitted."""

from translator.relay import changes
from tests.conftest import DEMO_MAPPINGS, ID, legacy


def test_change_filter_counts_in_flight_updates_and_forgets_refused(
        make_translator):
    translator = make_translator(DEMO_MAPPINGS)
    seen = changes.ChangeFilter(10)

    def check(state):
        outcome = translator.to_versioned(legacy('thing.update', dict(
            id=ID, name='x', state=state)))
        return seen.check(outcome.rules[0],
                          outcome.notifications[0]['payload'])

    emit, memo = check('a')
    assert emit
    assert check('a') == (False, None)  # same as the one in flight
    seen.forget(memo)  # refused: the next 'a' goes out again
    emit, memo = check('a')
    assert emit
    seen.remember(memo)
    assert check('a') == (False, None)
    seen.connection_lost()
    assert check('a') == (False, None)  # confirmed ones stay known
    assert check('b')[0]


def test_change_filter_is_bounded(make_translator):
    translator = make_translator(DEMO_MAPPINGS)
    seen = changes.ChangeFilter(2)
    rule = translator.index.rules[1]
    for ident in ('1', '2', '3'):
        payload = {rule.payload.data_key: {'id': ident, 'state': 's'}}
        emit, memo = seen.check(rule, payload)
        seen.remember(memo)
    # the oldest is forgotten: its next update is emitted, never lost
    assert seen.check(rule, {rule.payload.data_key: {
        'id': '1', 'state': 's'}})[0]
    assert not seen.check(rule, {rule.payload.data_key: {
        'id': '3', 'state': 's'}})[0]


def test_a_suppressed_update_keeps_its_resource_among_the_remembered(
        make_translator):
    """The least recently *seen* resource goes first, not the first one
    remembered: an unchanged update refreshes its resource."""
    translator = make_translator(DEMO_MAPPINGS)
    seen = changes.ChangeFilter(2)
    rule = translator.index.rules[1]

    def check(ident):
        return seen.check(rule, {rule.payload.data_key: {
            'id': ident, 'state': 's'}})
    for ident in ('1', '2'):
        seen.remember(check(ident)[1])
    assert check('1') == (False, None)  # seen again, suppressed
    seen.remember(check('3')[1])  # one too many: '2' goes, not '1'
    assert check('1') == (False, None)
    assert check('2')[0]
