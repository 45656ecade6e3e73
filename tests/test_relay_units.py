"""The relay's bookkeeping, without a broker: what may be acknowledged
and what counts as already emitted."""

import gc
import json
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oslo_config import cfg
from oslo_utils import strutils

from translator import config
from translator import envelope
from translator import metrics
from translator.relay import bus
from translator.relay import problem_log
from translator.relay import router
from translator.relay import service
from tests.conftest import DEMO_MAPPINGS, ID, legacy, write_mappings


def test_acks_cover_only_fully_confirmed_prefixes():
    ledger = service.Ledger()
    for tag in (1, 2, 3):
        ledger.open(tag, 'ts%d' % tag)
    ledger.expect(1, 10, None, 'versioned')
    ledger.expect(2, 11, None, 'versioned')
    ledger.expect(2, 12, None, 'versioned')
    # 3 has no output at all (its copy is already in place)
    assert ledger.completed() == []
    ledger.settle(12, False)
    assert ledger.completed() == []  # 1 and 11 still unconfirmed
    ledger.settle(11, True)  # multiple: 10 and 11
    assert ledger.completed() == [(1, 'ts1'), (2, 'ts2'), (3, 'ts3')]
    assert len(ledger) == 0


def test_a_refused_output_redelivers_its_source_once():
    ledger = service.Ledger()
    ledger.open(1, None)
    ledger.open(2, None)
    ledger.expect(1, 10, 'm10', 'versioned')
    ledger.expect(1, 11, 'm11', 'versioned')
    ledger.expect(2, 12, None, 'versioned')
    assert ledger.fail(11, True) == [(1, 'm10'), (None, 'm11')]
    ledger.settle(12, False)
    assert ledger.completed() == [(2, None)]


def test_change_filter_counts_in_flight_updates_and_forgets_refused(
        make_translator):
    translator = make_translator(DEMO_MAPPINGS)
    changes = router.ChangeFilter(10)

    def check(state):
        outcome = translator.translate(legacy('thing.update', dict(
            id=ID, name='x', state=state)))
        return changes.check(outcome.rules[0],
                             outcome.notifications[0]['payload'])

    emit, memo = check('a')
    assert emit
    assert check('a') == (False, None)  # same as the one in flight
    changes.forget(memo)  # refused: the next 'a' goes out again
    emit, memo = check('a')
    assert emit
    changes.remember(memo)
    assert check('a') == (False, None)
    changes.connection_lost()
    assert check('a') == (False, None)  # confirmed ones stay known
    assert check('b')[0]


def test_change_filter_is_bounded(make_translator):
    translator = make_translator(DEMO_MAPPINGS)
    changes = router.ChangeFilter(2)
    rule = translator.index.rules[1]
    for ident in ('1', '2', '3'):
        payload = {rule.payload.data_key: {'id': ident, 'state': 's'}}
        emit, memo = changes.check(rule, payload)
        changes.remember(memo)
    # the oldest is forgotten: its next update is emitted, never lost
    assert changes.check(rule, {rule.payload.data_key: {
        'id': '1', 'state': 's'}})[0]
    assert not changes.check(rule, {rule.payload.data_key: {
        'id': '3', 'state': 's'}})[0]


def test_reload_lets_the_replaced_mapping_set_go(tmp_path):
    # The relay keeps its heap frozen for the collector; a reload must not
    # keep the replaced mapping set there for good.
    mappings = write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)
    config_file = tmp_path / 'translator.conf'
    config_file.write_text('[relay]\nmappings_dir = %s\n' % mappings)
    conf = cfg.ConfigOpts()
    config.register(conf)
    conf(['--config-file', str(config_file)], project='translator')
    relay = service.Relay(conf, metrics.RelayMetrics())
    try:
        # payload classes live in reference cycles: only a collection
        # frees them
        old_class = weakref.ref(relay.router.translator.registry.classes[
            ('demo', 'ThingPayload')])
        relay.reload()
        new_class = relay.router.translator.registry.classes[
            ('demo', 'ThingPayload')]
        assert new_class is not old_class()
        assert old_class() is None
    finally:
        gc.unfreeze()


def test_problem_log_says_each_kind_once_per_interval_with_a_count():
    lines = []

    class Logger:
        def log(self, level, text, *args):
            lines.append((level, text % args))

    now = [0.0]
    problems = problem_log.ProblemLog(Logger(), 10, clock=lambda: now[0])
    for i in range(5):
        problems.report(20, 'dead letter (unmapped)', 'event %d' % i)
    problems.report(30, 'refused', 'nack')
    problems.tick()  # the interval is not over: nothing yet
    assert lines == [(20, 'dead letter (unmapped): event 0'),
                     (30, 'refused: nack')]
    now[0] = 10.0
    problems.tick()
    assert lines[2:] == [
        (20, 'dead letter (unmapped): 4 more in the last 10 s, the latest: '
             'event 4')]
    problems.report(20, 'dead letter (unmapped)', 'event 5')
    assert lines[3:] == [(20, 'dead letter (unmapped): event 5')]


def _wire(message, **dumps):
    return json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps(
        message, **dumps)}, **dumps).encode()


SECRET_CONTEXT = {'_context_auth_token': 'tok"en\u00e9', '_context_user': 'u',
                  '_context_service_catalog': {'password': 'p'},
                  '_context_roles': ['admin']}


def test_dead_letter_bodies_keep_every_byte_but_the_secrets():
    message = dict(event_type='x.y', payload={'a': 'tok"en\u00e9'},
                   publisher_id='p', **SECRET_CONTEXT)
    del message['_context_service_catalog']
    raw = _wire(message)
    masked = envelope.redacted_body(raw)
    # Only the token's text changed: the same bytes around it.
    token = json.dumps(json.dumps('tok"en\u00e9')[1:-1])[1:-1].encode()
    assert masked == raw.replace(b'_context_auth_token\\": \\"' + token,
                                 b'_context_auth_token\\": \\"***')
    assert envelope.redacted_body(b'{not json') == b'{not json'
    plain = json.dumps({'x': 1, '_context_user': 'u'}).encode()
    assert envelope.redacted_body(plain) is plain  # nothing to mask


@pytest.mark.parametrize('dumps', [{}, {'separators': (',', ':')}])
def test_dead_letter_bodies_are_masked_as_oslo_masks_whatever_their_form(
        dumps):
    message = dict(event_type='x.y', payload={}, publisher_id='p',
                   **SECRET_CONTEXT)
    inner = json.loads(json.loads(envelope.redacted_body(
        _wire(message, **dumps)))['oslo.message'])
    context = {k[len('_context_'):]: v for k, v in message.items()
               if k.startswith('_context_')}
    assert {k[len('_context_'):]: v for k, v in inner.items()
            if k.startswith('_context_')} == strutils.mask_dict_password(
                context)
    assert inner['_context_auth_token'] == '***'
    assert inner['_context_service_catalog'] == {'password': '***'}


def test_replicas_start_on_any_host_and_round_robin_moves_on():
    hosts = ['a', 'b', 'c']
    firsts = set()
    for _ in range(100):
        order = bus._HostOrder(hosts, 'round-robin')
        first = next(iter(order))
        firsts.add(first)
        # the next connection tries the others first, this one last
        again = list(order)
        assert sorted(again) == hosts and again[-1] == first
    # 100 replicas given the same URL: a chance of 3 * (2/3)**100 to miss
    assert firsts == set(hosts)


def test_shuffle_starts_each_connection_on_any_host():
    order = bus._HostOrder(['a', 'b', 'c'], 'shuffle')
    assert {next(iter(order)) for _ in range(100)} == {'a', 'b', 'c'}
    assert sorted(order) == ['a', 'b', 'c']


_NAMES = st.sampled_from([
    'auth_token', 'AUTH_TOKEN', 'user_id', 'request_id', 'roles',
    'service_catalog', 'password', 'x_Password_y', 'token', 'secret_uuid',
    'user_name', 'timestamp', 'is_admin', 'chapsecret', 'remote_address'])
_TEXTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['password=hunter2', "'adminPass': 'aaaaa'",
                     'token: abc', 'a Secret here', 'SSLKEY=1',
                     '--password d81juxmEW_', 'req-1c2d', 'İ\u0130passwordΣ']))
_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(
        allow_nan=False), _TEXTS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.one_of(_NAMES, st.text(max_size=6)), inner, max_size=3)),
    max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.one_of(_NAMES, st.text(max_size=10)), _VALUES,
                       max_size=12))
def test_contexts_are_masked_exactly_as_oslo_masks_them(context):
    masked = strutils.mask_dict_password(context)
    assert envelope.redact_context(context) == masked
    # as they travel, each key prefixed: the same values masked
    assert envelope.redact_context({
        '_context_' + key: value for key, value in context.items()}) == {
        '_context_' + key: value for key, value in masked.items()}
