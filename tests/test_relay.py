"""The relay end to end, against the machine's real RabbitMQ."""

import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
import time

import pytest

from translator import envelope

from tests import broker
from tests import contracts
from tests.conftest import ID, ROOT


def thing(name, **extra):
    return dict(id=ID, name=name, **extra)


def versioned_message(amqp_message):
    contracts.check_output(amqp_message)
    body = json.loads(amqp_message.body)
    assert body['oslo.version'] == '2.0'
    return json.loads(body['oslo.message'])


def options(vhost, mappings, fmt='both', target=None, **relay_opts):
    return {'source': {'transport_url': broker.url(vhost),
                       'exchanges': 'demo'},
            'target': {'transport_url': broker.url(target)} if target else {},
            'notifications': {'notification_format': fmt},
            'relay': dict(relay_opts, mappings_dir=mappings)}


def test_both_on_same_bus_publishes_versioned_and_no_second_copy(
        vhost, mappings, relay):
    versioned = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
    legacy = broker.Collector(vhost, 'demo', 'notifications.*')
    process = relay(**options(vhost, mappings))
    producer = broker.Producer(broker.url(vhost), 'demo')
    for i in range(20):
        producer.send('thing.create.end', thing('t%d' % i))
    got = versioned.take(20)
    assert len(got) == 20
    messages = [versioned_message(m) for m in got]
    assert [m['payload']['demo_object.data']['name'] for m in messages] == [
        't%d' % i for i in range(20)]
    first = messages[0]
    assert first['event_type'] == 'thing.create.end'
    assert first['publisher_id'] == 'demo-compute:host1'
    assert got[0].delivery_info['routing_key'] == \
        'versioned_notifications.info'
    assert got[0].properties['delivery_mode'] == 2
    # the request context travels, its token does not
    assert first['_context_request_id'] == 'req-7'
    assert first['_context_auth_token'] == '***'
    assert 'secret-token-value' not in got[0].body
    # the originals are there once: the relay added no copy of its own
    assert len(legacy.take(20)) == 20
    assert legacy.rest() == [] and versioned.rest() == []
    # its own outputs come back (the pool reads services' versioned
    # notifications there too): known by their mark, passed over
    broker.wait_for('own outputs read back', lambda: process.metric(
        'translator_own_outputs_total') == 20)
    assert broker.queue_depth(vhost, 'translator') == 0
    assert process.metric('translator_messages_acknowledged_total') == 40
    assert legacy.rest() == [] and versioned.rest() == []
    producer.close()


def bodies(messages):
    return [m.body for m in messages]


def test_versioned_mode_same_bus(vhost, mappings, relay):
    versioned = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
    legacy = broker.Collector(vhost, 'demo', 'notifications.*')
    relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    producer.send('thing.create.error', thing('a'))
    [message] = versioned.take(1)
    assert message.delivery_info['routing_key'] == \
        'versioned_notifications.error'
    assert versioned_message(message)['priority'] == 'ERROR'
    assert len(legacy.take(1)) == 1 and legacy.rest() == []


def test_default_queues_nobody_reads_are_capped_as_configured(
        vhost, mappings, relay):
    """[target] default_queue_max_length, _message_ttl and _expires become
    the arguments of the default queues the relay creates, and the broker
    keeps them: the oldest beyond the length are dropped."""
    opts = options(vhost, mappings, 'versioned')
    opts['target'] = {'default_queue_max_length': 3,
                      'default_queue_message_ttl': 600,
                      'default_queue_expires': 3600}
    process = relay(**opts)
    producer = broker.Producer(broker.url(vhost), 'demo')
    for i in range(5):
        producer.send('thing.create.end', thing('t%d' % i))
    producer.close()
    broker.wait_for('own outputs read back', lambda: process.metric(
        'translator_own_outputs_total') == 5)
    found = broker.queues(vhost)
    assert found['versioned_notifications.info'][3] == {
        'x-max-length': 3, 'x-message-ttl': 600000, 'x-expires': 3600000}
    assert found['translator'][3] == {}
    kept = broker.read_queue(vhost, 'versioned_notifications.info', 3)
    assert [versioned_message(m)['payload']['demo_object.data']['name']
            for m in kept] == ['t2', 't3', 't4']


def test_unversioned_mode_same_bus_adds_nothing(vhost, mappings, relay):
    versioned = broker.Collector(vhost, 'demo', '#')
    process = relay(**options(vhost, mappings, 'unversioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    for _ in range(5):
        producer.send('thing.create.end', thing('a'))
    # only the five originals: nothing versioned, no second legacy copy
    got = versioned.take(5) + versioned.rest()
    assert [m.delivery_info['routing_key'] for m in got] == [
        'notifications.info'] * 5
    deadline = time.monotonic() + 10
    while process.metric('translator_messages_acknowledged_total') < 5:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert broker.queue_depth(vhost, 'translator') == 0


@pytest.mark.parametrize('fmt,kinds', [
    ('both', ['legacy', 'versioned']),
    ('versioned', ['versioned']),
    ('unversioned', ['legacy']),
])
def test_bus_to_bus(mappings, relay, fmt, kinds):
    with broker.vhost() as source, broker.vhost() as target:
        out = broker.Collector(target, 'demo', '#')
        relay(**options(source, mappings, fmt, target=target))
        producer = broker.Producer(broker.url(source), 'demo')
        producer.send('thing.create.end', thing('a'), priority='warn')
        got = out.take(len(kinds)) + out.rest()
        keys = sorted(m.delivery_info['routing_key'] for m in got)
        expected = {'legacy': 'notifications.warn',
                    'versioned': 'versioned_notifications.warn'}
        assert keys == sorted(expected[k] for k in kinds)
        for message in got:
            inner = versioned_message(message)
            if message.delivery_info['routing_key'].startswith('notif'):
                assert inner['event_type'] == 'thing.create.end'
                assert inner['payload'] == thing('a')
            else:
                assert inner['payload']['demo_object.data']['name'] == 'a'
                assert inner['priority'] == 'WARN'
        producer.close()


def test_private_topic_deployment(vhost, mappings, relay):
    """Services send to a topic only the relay reads; the relay puts the
    legacy copy where legacy consumers read, as Nova's switch would."""
    out = broker.Collector(vhost, 'demo', '#')
    opts = options(vhost, mappings, 'both')
    opts['source']['topics'] = 'legacy_private'
    relay(**opts)
    producer = broker.Producer(broker.url(vhost), 'demo', topic='legacy_private')
    producer.send('thing.create.end', thing('a'))
    got = out.take(3) + out.rest()
    assert sorted(m.delivery_info['routing_key'] for m in got) == [
        'legacy_private.info', 'notifications.info',
        'versioned_notifications.info']


def test_dead_letters_keep_the_body_and_say_why(vhost, mappings, relay):
    dead = broker.Collector(vhost, 'demo', 'notifications_dead_letter.*')
    process = relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    producer.send('thing.create.end', dict(id='not-a-uuid', name='x'))
    producer.send('other.event', {'x': 1})
    producer.send('thing.legacy_only', {'x': 1})
    broker.publish_raw(vhost, 'demo', 'notifications.error', b'{not json')
    got = dead.take(4)
    assert len(got) == 4
    for message in got:
        contracts.check_output(message)
    # in the order sent, but the invalid one: from a host not seen yet on
    # the bus of services' versioned notifications, it waited for a twin
    got.insert(0, got.pop())
    headers = [m.properties['application_headers'] for m in got]
    assert [h['x-translator-outcome'] for h in headers] == [
        'invalid', 'unmapped', 'unmapped', 'malformed']
    assert "field id: not a UUID: 'not-a-uuid'" in headers[0][
        'x-translator-reason']
    assert headers[0]['x-translator-event-type'] == 'thing.create.end'
    assert headers[1]['x-translator-reason'] == \
        "no rule matches event type 'other.event'"
    assert headers[2]['x-translator-reason'].endswith(
        'is not translated: no versioned form')
    assert headers[3]['x-translator-reason'].startswith('not valid JSON')
    assert 'x-translator-event-type' not in headers[3]
    assert all(h['x-translator-source-exchange'] == 'demo' for h in headers)
    assert headers[3]['x-translator-source-routing-key'] == \
        'notifications.error'
    assert got[3].delivery_info['routing_key'] == \
        'notifications_dead_letter.error'
    assert got[3].body in (b'{not json', '{not json')
    assert versioned_message(got[0])['payload'] == {'id': 'not-a-uuid',
                                                    'name': 'x'}
    assert process.metric('translator_dead_letters_total',
                          reason='unmapped') == 2
    assert process.metric('translator_dead_letters_total',
                          reason='malformed') == 1


def test_unchanged_updates_are_not_reemitted(vhost, mappings, relay):
    versioned = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
    process = relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    for name, state in [('a', 'x'), ('b', 'x'), ('c', 'y'), ('d', 'x')]:
        producer.send('thing.update', thing(name, state=state))
    got = versioned.take(3) + versioned.rest()
    assert [versioned_message(m)['payload']['demo_object.data']['name']
            for m in got] == ['a', 'c', 'd']
    assert process.metric(
        'translator_unchanged_updates_suppressed_total') == 1


def test_bad_config_is_refused_with_a_masked_url(tmp_path, mappings):
    process = broker.RelayProcess(tmp_path, source={
        'transport_url': 'kafka://admin:hunter2@127.0.0.1:9092/'},
        relay={'mappings_dir': mappings})
    process.start(ready=False)
    assert process.proc.wait(30) == 2
    log = process.log.read_text()
    assert "transport 'kafka'" in log and 'admin:***@' in log
    assert 'hunter2' not in log


@pytest.mark.parametrize('source,target,said', [
    ({}, {'versioned_topic': 'notifications'},
     "[target] versioned_topic 'notifications' is one of the [source] "
     "topics on the same bus: the relay would consume its own output"),
    ({}, {'dead_letter_topic': 'versioned_notifications'},
     "[target] dead_letter_topic 'versioned_notifications' is one of the "
     "[source] versioned_topics on the same bus"),
    ({'versioned_topics': 'n2'}, {'legacy_topic': 'n2'},
     "[target] legacy_topic 'n2' is one of the [source] versioned_topics"),
    ({'versioned_topics': 'notifications'}, {},
     '[source] topics and versioned_topics both name notifications: a '
     'topic carries one format'),
    ({}, {'declare_default_queues': 'false'},
     '[target] declare_default_queues = false, while the relay reads back '
     'what it publishes on the same bus'),
], ids=['versioned into legacy', 'dead letters into versioned',
        'legacy into versioned', 'one topic, two formats',
        'read back without default queues'])
def test_loop_configuration_is_refused(tmp_path, vhost, mappings, source,
                                       target, said):
    opts = options(vhost, mappings)
    opts['source'].update(source)
    opts['target'] = target
    process = broker.RelayProcess(tmp_path, **opts)
    process.start(ready=False)
    assert process.proc.wait(30) == 2
    assert said in process.log.read_text()


def test_unreachable_source_is_retried_with_backoff(tmp_path, mappings):
    process = broker.RelayProcess(tmp_path, source={
        'transport_url': 'rabbit://guest:s3cret@127.0.0.1:%d/'
        % broker.free_port()}, relay={'mappings_dir': mappings,
                                  'reconnect_delay_max': 2})
    process.start(ready=False)

    def delays():
        return re.findall(r'bus failure, .*; retrying in ([\d.]+) s',
                          process.log.read_text())
    # counted in the log, not after a fixed time: start-up under load
    # takes seconds of its own
    broker.wait_for('four retries', lambda: len(delays()) >= 4,
                 log=process.log)
    assert process.get('/healthz')[0] == 200
    status, text = process.get('/readyz')
    assert status == 503 and 'target bus not connected' in text
    assert process.stop() == 0
    log = process.log.read_text()
    # the waits double up to the maximum: not a busy loop
    assert delays()[:4] == ['0.5', '1.0', '2.0', '2.0'], log
    assert 's3cret' not in log and 'guest:***@' in log
    # each failure said once on its line (not again by oslo.log)
    retries = [line for line in log.splitlines() if 'bus failure' in line]
    assert all(line.count('Connection refused') == 1 for line in retries)


def message_ids(messages):
    return [versioned_message(m)['message_id'] for m in messages]


def test_sighup_switches_format_under_traffic_exactly(tmp_path, mappings,
                                                      relay):
    """Every message is relayed in exactly one format: before the switch
    versioned, after it legacy; none twice, none lost."""
    total = 3000
    with broker.vhost() as source, broker.vhost() as target:
        out = broker.Collector(target, 'demo', '#')
        process = relay(**options(source, mappings, 'versioned',
                                  target=target, batch_size=50))
        producer = broker.Producer(broker.url(source), 'demo')
        for i in range(total):
            producer.send('thing.create.end', thing('n%d' % i))
            if i == total // 3:
                process.write_config(options(source, mappings, 'unversioned',
                                             target=target, batch_size=50))
                process.signal(signal.SIGHUP)
        got = out.take(total, timeout=120)
        assert out.rest() == []
        assert len(got) == total
        names, kinds = [], []
        for message in got:
            inner = versioned_message(message)
            versioned = message.delivery_info['routing_key'].startswith('v')
            kinds.append(versioned)
            names.append(inner['payload']['demo_object.data']['name']
                         if versioned else inner['payload']['name'])
        assert sorted(names) == sorted('n%d' % i for i in range(total))
        switch = kinds.index(False)
        assert 0 < switch and not any(kinds[switch:])
        assert process.metric('translator_config_reloads_total',
                              result='success') == 1
        assert process.metric('translator_notification_format',
                              format='unversioned') == 1
        producer.close()


def test_sighup_with_a_broken_mapping_keeps_the_old_set(vhost, mappings,
                                                        relay):
    versioned = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
    process = relay(**options(vhost, mappings, 'versioned'))
    (mappings / 'demo' / 'broken.yaml').write_text('rules: [\n')
    process.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while process.metric('translator_config_reloads_total',
                         result='failure') < 1:
        assert time.monotonic() < deadline, process.log.read_text()
        time.sleep(0.1)
    producer = broker.Producer(broker.url(vhost), 'demo')
    producer.send('thing.create.end', thing('still'))
    assert len(versioned.take(1)) == 1
    log = process.log.read_text()
    [line] = [line for line in log.splitlines() if 'reload refused' in line]
    assert line.count('broken.yaml:2: YAML syntax') == 1


def test_sigterm_finishes_in_flight_and_exits_cleanly(vhost, mappings,
                                                      relay):
    versioned = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
    process = relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    for i in range(500):
        producer.send('thing.create.end', thing('n%d' % i))
    process.signal(signal.SIGTERM)
    assert process.proc.wait(30) == 0
    relayed = len(versioned.take(500, timeout=5))
    # what it did not take stays queued for the next run, unacknowledged
    # work was not dropped: together they are all 500 (the queue also
    # holds outputs of its own it had not read back yet)
    waiting = broker.read_queue(vhost, 'translator', 1000, timeout=2)
    assert relayed + len([m for m in waiting if m.properties.get(
        'app_id') != 'translator']) == 500
    assert 'stopped' in process.log.read_text()


@pytest.fixture(scope='module')
def private_broker():
    # Not below pytest's tmp_path: the rabbitmq user cannot enter it.
    base = tempfile.mkdtemp(prefix='translator-rabbit-')
    os.chmod(base, 0o755)
    node = broker.PrivateBroker(os.path.join(base, 'node')).start()
    yield node
    node.stop()
    shutil.rmtree(base, ignore_errors=True)


def test_target_down_nothing_acknowledged_then_all_delivered(
        private_broker, mappings, relay):
    total = 200
    with broker.vhost() as source:
        target_url = private_broker.url()
        out = broker.Collector('/', 'demo', '#', port=private_broker.port,
                            durable=True)
        opts = options(source, mappings, 'versioned', confirm_timeout=2,
                       reconnect_delay_max=1)
        opts['target'] = {'transport_url': target_url}
        process = relay(**opts)
        producer = broker.Producer(broker.url(source), 'demo')
        for i in range(total // 2):
            producer.send('thing.create.end', thing('n%d' % i))
        assert len(out.take(total // 2)) == total // 2
        out.close()
        private_broker.stop_app()
        acked = process.metric('translator_messages_acknowledged_total')
        for i in range(total // 2, total):
            producer.send('thing.create.end', thing('n%d' % i))
        time.sleep(3)
        assert process.metric(
            'translator_messages_acknowledged_total') == acked
        assert broker.queue_depth(source, 'translator') == total // 2
        assert process.get('/readyz')[0] == 503
        private_broker.start_app()
        out = broker.Collector('/', 'demo', '#', port=private_broker.port,
                            durable=True, queue=out.queue)
        producer.close()
        process.wait_ready()
        names = set()
        deadline = time.monotonic() + 60
        while len(names) < total // 2 and time.monotonic() < deadline:
            for message in out.take(1, timeout=1):
                names.add(versioned_message(message)['payload'][
                    'demo_object.data']['name'])
        assert names == {'n%d' % i for i in range(total // 2, total)}
        assert broker.queue_depth(source, 'translator') == 0


def test_quorum_queue_option(vhost, mappings, relay):
    opts = options(vhost, mappings)
    opts['source']['rabbit_quorum_queue'] = 'true'
    relay(**opts)
    listing = broker.ctl('list_queues', '-p', vhost, 'name', 'type',
                      'durable').stdout
    assert 'translator\tquorum\ttrue' in listing


def nova_real():
    return json.loads((ROOT / 'tests/golden/nova/'
                       'instance-create-end-real.json').read_text())


#: the pool, and so the queue, of the Nova consumer
NOVA_CONSUMER = 'nova-consumer'


@contextlib.contextmanager
def nova_consumer(vhost):
    """A consumer written for Nova's native versioned notifications: an
    oslo.messaging listener on versioned_notifications with a pool of its
    own. Yields the list of what it received."""
    import oslo_messaging
    from oslo_config import cfg

    received = []

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            received.append((ctxt, publisher_id, event_type, payload,
                             metadata))

    conf = cfg.ConfigOpts()
    conf([], project='translator-tests')
    transport = oslo_messaging.get_notification_transport(
        conf, url=broker.url(vhost))
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic='versioned_notifications',
                                          exchange='nova')],
        [Endpoint()], executor='threading', pool=NOVA_CONSUMER)
    listener.start()
    try:
        yield received
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()


def test_oslo_listener_receives_nova_notifications_as_nova_sends_them(
        vhost, relay):
    """A consumer written for Nova's native versioned notifications works
    unchanged."""
    from tests.compare import differences

    golden = nova_real()
    with nova_consumer(vhost) as received:
        relay(source={'transport_url': broker.url(vhost)},
              notifications={'notification_format': 'versioned'})
        legacy = golden['input']
        producer = broker.Producer(broker.url(vhost), 'nova',
                                publisher_id=legacy['publisher_id'])
        producer.send(legacy['event_type'], legacy['payload'])
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.1)
        producer.close()
    [(ctxt, publisher_id, event_type, payload, metadata)] = received
    expected = golden['expected'][0]['payload']
    # what Nova takes from the request context: the producer's
    expected['nova_object.data'].update(
        request_id='req-7', action_initiator_user='u1',
        action_initiator_project='p1')
    assert (publisher_id, event_type) == ('nova-compute:Node_0',
                                          'instance.create.end')
    assert differences(expected, payload) == []
    assert ctxt['request_id'] == 'req-7'
    assert metadata['timestamp'] and metadata['message_id']


def test_oslo_listener_drops_a_redelivered_legacy_message_once_relayed(
        vhost, relay):
    """A legacy message the relay gets again (redelivered after a crash
    before its acknowledgement) is relayed again, as at-least-once allows;
    both copies carry one ``_unique_id``, by which an oslo.messaging
    listener drops the second."""
    legacy = dict(nova_real()['input'], priority='INFO',
                  _context_request_id='req-7')
    legacy.update(legacy.pop('metadata'))
    body = envelope.wire_body(legacy)

    def consumer_queue(column):
        rows = broker.ctl('list_queues', '-p', vhost, '--no-table-headers',
                       'name', column).stdout.splitlines()
        return int(dict(row.split('\t') for row in rows)[NOVA_CONSUMER])

    with nova_consumer(vhost) as received:
        relay(source={'transport_url': broker.url(vhost)},
              notifications={'notification_format': 'versioned'})
        witness = broker.Collector(vhost, 'nova', 'versioned_notifications.*')
        broker.publish_raw(vhost, 'nova', 'notifications.info', body)
        broker.wait_for('the first copy handled', lambda: (
            received and consumer_queue('messages') == 0))
        # oslo.messaging knows a unique id once it has acknowledged it
        time.sleep(0.5)
        broker.publish_raw(vhost, 'nova', 'notifications.info', body)
        copies = [versioned_message(m) for m in witness.take(2)]
        # a duplicate is dropped unacknowledged, a new one handled
        broker.wait_for('the second copy taken', lambda: consumer_queue(
            'messages_ready') == 0)
        time.sleep(1)
        handled = list(received)
    assert len(copies) == 2
    assert copies[0]['message_id'] == copies[1]['message_id']
    assert len(handled) == 1
