"""translator.relay.twins: which events a service sent in both formats,
told from the order and keys of what came, with a clock of the test's."""

import pytest

from translator.relay import twins


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def board(clock, hold_unknown=True, wait=2.0):
    return twins.Twins(wait, hold_unknown, clock=clock)


KEY, OTHER = ('h1', 'req-1', 'x.end'), ('h1', 'req-2', 'x.end')


def test_a_legacy_one_waits_for_its_twin_and_the_twin_frees_it(clock):
    t = board(clock)
    assert t.legacy(KEY, 'h1', True) == twins.HOLD
    held = t.hold(KEY, 7, lambda: ([], 0))
    assert len(t) == 1 and t.next_deadline() == 102.0
    clock.now += 0.003
    assert t.versioned(KEY, 'h1', True) == (twins.RELEASED, held)
    assert held.tag == 7 and len(t) == 0 and t.next_deadline() is None
    clock.now += 5
    assert t.expired() == []


def test_a_twin_that_does_not_come_in_time_makes_the_host_legacy_only(
        clock):
    t = board(clock)
    t.legacy(KEY, 'h1', True)
    held = t.hold(KEY, 7, lambda: ([], 0))
    clock.now += 1.9
    assert t.expired() == []
    clock.now += 0.1
    assert t.expired() == [held]
    # known now: the next one is made at once, and its late twin is one
    # the relay already made
    assert t.legacy(OTHER, 'h1', True) == twins.MAKE
    assert t.versioned(OTHER, 'h1', True) == (twins.LATE, None)
    # ... and the host sends versioned ones again: the next one waits
    assert t.legacy(('h1', 'req-3', 'x.end'), 'h1', True) == twins.HOLD


def test_a_versioned_one_meanwhile_keeps_the_host_as_sending_them(clock):
    t = board(clock)
    t.legacy(KEY, 'h1', True)
    t.hold(KEY, 7, lambda: ([], 0))
    clock.now += 1
    assert t.versioned(OTHER, 'h1', True) == (twins.ALONE, None)
    clock.now += 1
    [_] = t.expired()
    assert t.legacy(('h1', 'req-3', 'x.end'), 'h1', True) == twins.HOLD


def test_a_host_not_seen_yet_waits_only_where_it_must(clock):
    assert board(clock).legacy(KEY, 'h1', True) == twins.HOLD
    t = board(clock, hold_unknown=False)
    assert t.legacy(KEY, 'h1', True) == twins.MAKE
    # its twin comes after all: the relay made one already
    assert t.versioned(KEY, 'h1', True) == (twins.LATE, None)
    # nothing to make, nothing to wait for
    assert board(clock).legacy(KEY, 'h1', False) == twins.MAKE


def test_a_versioned_one_alone_then_its_legacy_twin(clock):
    t = board(clock)
    assert t.versioned(KEY, 'h1', True) == (twins.ALONE, None)
    assert t.legacy(KEY, 'h1', True) == twins.LATE
    t.versioned(OTHER, 'h1', False)
    assert t.legacy(OTHER, 'h1', True) == twins.TWIN


def test_events_of_one_request_pair_off_in_order(clock):
    t = board(clock, hold_unknown=False)
    for _ in range(3):
        assert t.legacy(KEY, 'h1', False) == twins.MAKE
    for _ in range(3):
        assert t.versioned(KEY, 'h1', True) == (twins.TWIN, None)
    assert t.versioned(KEY, 'h1', True) == (twins.ALONE, None)


def test_unpaired_ones_are_forgotten_in_time(clock):
    t = board(clock, hold_unknown=False)
    t.legacy(KEY, 'h1', True)
    clock.now += twins.MEMORY + 1
    t.legacy(OTHER, 'h1', True)  # remembering one forgets the old
    assert t.versioned(KEY, 'h1', True) == (twins.ALONE, None)
    assert t.versioned(OTHER, 'h1', True) == (twins.LATE, None)


def test_a_lost_connection_forgets_all_but_the_hosts(clock):
    t = board(clock, hold_unknown=False)
    t.versioned(('h1', 'req-0', 'x.end'), 'h1', True)
    assert t.legacy(KEY, 'h1', True) == twins.HOLD
    t.hold(KEY, 7, lambda: ([], 0))
    t.versioned(OTHER, 'h2', True)
    t.connection_lost()
    assert len(t) == 0 and t.next_deadline() is None
    assert t.versioned(KEY, 'h1', True) == (twins.ALONE, None)
    assert t.legacy(OTHER, 'h2', True) == twins.HOLD  # h2 still known
    assert t.legacy(OTHER, 'h3', True) == twins.MAKE  # h3 is not
