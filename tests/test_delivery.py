"""At least once, under real faults: a source message is acknowledged only
after its outputs are confirmed, whatever the target broker or the network
does, and whatever happens to the relay meanwhile.

The target is reached through a TCP proxy the test controls (a stalled
network or a hung broker), or is a queue that refuses publishes.
"""

import signal
import threading
import time

import pytest

from tests import broker
from tests.test_relay import options, thing, versioned_message


@pytest.fixture
def proxy():
    proxy = broker.TcpProxy()
    yield proxy
    proxy.close()


def through(proxy, source, target, mappings, **relay_opts):
    """Options of a versioned relay whose target is reached through the
    proxy."""
    opts = options(source, mappings, 'versioned', **relay_opts)
    opts['target'] = {'transport_url': proxy.url(target)}
    return opts


def names(collector, count, timeout=60):
    """The payload names of versioned outputs, duplicates dropped, until
    ``count`` distinct ones arrived or ``timeout``."""
    seen = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count and time.monotonic() < deadline:
        for message in collector.take(1, timeout=0.5):
            seen.add(versioned_message(message)['payload'][
                'demo_object.data']['name'])
    return seen


def unacknowledged(vhost, queue='translator'):
    rows = broker.ctl('list_queues', '-p', vhost, '--no-table-headers', 'name',
                   'messages_unacknowledged').stdout.splitlines()
    return dict((name, int(count)) for name, count in
                (row.split('\t') for row in rows))[queue]


def test_held_confirms_keep_sources_unacknowledged_through_kill_9(
        mappings, relay, proxy):
    """While the target's confirms are held back nothing is acknowledged;
    a relay killed then loses nothing, though its outputs never arrived."""
    total = 50
    with broker.vhost() as source, broker.vhost() as target:
        out = broker.Collector(target, 'demo', 'versioned_notifications.*')
        opts = through(proxy, source, target, mappings,
                       confirm_timeout=300)
        first = relay(**opts)
        producer = broker.Producer(broker.url(source), 'demo')
        warm_up(producer, out)
        proxy.stall()
        for i in range(total):
            producer.send('thing.create.end', thing('n%d' % i))
        broker.wait_for('all published', lambda: first.metric(
            'translator_in_flight_messages') == total, log=first.log)
        time.sleep(1)  # confirms would have come by now
        # the warm-up's only
        assert first.metric('translator_messages_acknowledged_total') == 1
        assert unacknowledged(source) == total
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        proxy.cut()  # with the outputs it held: they never arrive
        assert out.rest(0.5) == []
        second = relay(**opts)
        assert names(out, total) == {'n%d' % i for i in range(total)}
        broker.wait_for('acknowledgements', lambda: second.metric(
            'translator_messages_acknowledged_total') == total)
        # every one of them came again, and the metric says so
        assert second.metric('translator_messages_redelivered_total') == total
        assert broker.queues(source)['translator'][0] == 0
        producer.close()


def warm_up(producer, out):
    """One message through, so that the places it goes to are declared:
    later publishes need no reply but their confirms."""
    producer.send('thing.create.end', thing('warm-up'))
    assert names(out, 1) == {'warm-up'}


@pytest.mark.parametrize('warm', [True, False], ids=['confirm', 'reply'])
def test_a_stalled_target_times_out_and_is_left(mappings, relay, proxy,
                                                warm):
    """A target that stops answering, while confirms are due or while the
    relay waits for the reply to a declaration, is given up after
    confirm_timeout; the relay reconnects and nothing is lost."""
    total = 20
    with broker.vhost() as source, broker.vhost() as target:
        out = broker.Collector(target, 'demo', 'versioned_notifications.*')
        opts = through(proxy, source, target, mappings, confirm_timeout=2,
                       reconnect_delay_max=1)
        process = relay(**opts)
        producer = broker.Producer(broker.url(source), 'demo')
        if warm:
            warm_up(producer, out)
        proxy.stall()  # the connection in use hangs; new ones work
        for i in range(total):
            producer.send('thing.create.end', thing('n%d' % i))
        producer.close()
        assert names(out, total) == {'n%d' % i for i in range(total)}
        broker.wait_for('acknowledgements', lambda: process.metric(
            'translator_messages_acknowledged_total') == total + warm,
            log=process.log)
        log = process.log.read_text()
        if warm:
            assert process.metric('translator_publish_failures_total',
                                  cause='timeout') >= 1
            assert 'no confirm from the target broker for 2 s' in log
        else:
            assert 'a broker did not answer within 2 s' in log


def test_refused_publishes_are_held_until_there_is_room(mappings, relay):
    """A queue that rejects publishes when full makes the broker nack: the
    sources stay unacknowledged, come back, and get through once the
    consumer has made room."""
    total, room = 12, 5
    with broker.vhost() as source, broker.vhost() as target:
        conn = broker.connection(target)
        channel = conn.channel()
        channel.exchange_declare('demo', 'topic', durable=False,
                                 auto_delete=False)
        channel.queue_declare('limited', durable=True, auto_delete=False,
                              arguments={'x-max-length': room,
                                         'x-overflow': 'reject-publish'})
        channel.queue_bind('limited', 'demo', 'versioned_notifications.*')
        opts = options(source, mappings, 'versioned', target=target,
                       reconnect_delay_max=1)
        opts['target']['declare_default_queues'] = 'false'
        process = relay(**opts)
        producer = broker.Producer(broker.url(source), 'demo')
        for i in range(total):
            producer.send('thing.create.end', thing('n%d' % i))
        producer.close()
        broker.wait_for('a nack', lambda: process.metric(
            'translator_publish_failures_total', cause='nack') >= 1,
            log=process.log)

        def held():
            """What is not acknowledged is all still in the pool queue;
            read twice, as the relay may just be acknowledging."""
            acknowledged = process.metric(
                'translator_messages_acknowledged_total')
            in_pool = broker.queues(source)['translator'][0]
            return acknowledged == process.metric(
                'translator_messages_acknowledged_total') and (
                    acknowledged + in_pool == total)
        broker.wait_for('the refused ones held in the pool', held,
                     log=process.log)
        assert process.metric(
            'translator_messages_acknowledged_total') <= room
        seen = set()
        deadline = time.monotonic() + 60
        while len(seen) < total and time.monotonic() < deadline:
            message = channel.basic_get('limited', no_ack=True)
            if message is None:
                time.sleep(0.1)
                continue
            seen.add(versioned_message(message)['payload'][
                'demo_object.data']['name'])
        assert seen == {'n%d' % i for i in range(total)}
        broker.wait_for('acknowledgements', lambda: process.metric(
            'translator_messages_acknowledged_total') == total)
        assert 'holding' in process.log.read_text()
        conn.close()


def test_a_reload_that_changes_connections_under_traffic(mappings, relay):
    """SIGHUP moving the relay to another target bus while messages flow:
    none lost, the later ones on the new target."""
    total = 1500
    with broker.vhost() as source, broker.vhost() as old, broker.vhost() as new:
        before = broker.Collector(old, 'demo', 'versioned_notifications.*')
        after = broker.Collector(new, 'demo', 'versioned_notifications.*')
        process = relay(**options(source, mappings, 'versioned', target=old,
                                  batch_size=50))
        producer = broker.Producer(broker.url(source), 'demo')

        def send():
            for i in range(total):
                producer.send('thing.create.end', thing('n%d' % i))
        sender = threading.Thread(target=send)
        sender.start()
        broker.wait_for('traffic', lambda: process.metric(
            'translator_messages_acknowledged_total') >= 200)
        process.write_config(options(source, mappings, 'versioned',
                                     target=new, batch_size=50, prefetch=7))
        process.signal(signal.SIGHUP)
        sender.join()
        producer.close()
        broker.wait_for('every message acknowledged', lambda: process.metric(
            'translator_messages_acknowledged_total') >= total,
            log=process.log)
        got_old = names(before, total, timeout=2)
        got_new = names(after, total, timeout=2)
        assert got_old | got_new == {'n%d' % i for i in range(total)}
        assert 'n%d' % (total - 1) in got_new and 'n0' in got_old
        assert process.metric('translator_config_reloads_total',
                              result='success') == 1
        assert 'connection settings changed: reconnecting' in \
            process.log.read_text()
        assert broker.queues(source)['translator'][0] == 0


def test_a_confirmed_update_stays_known_after_the_connection_is_lost(
        mappings, relay, proxy):
    """An update is known once its output is confirmed, not only while it
    is in flight: after the relay lost its target and reconnected, the same
    state again is still suppressed, and a new state is emitted."""
    with broker.vhost() as source, broker.vhost() as target:
        out = broker.Collector(target, 'demo', 'versioned_notifications.*')
        opts = through(proxy, source, target, mappings,
                       reconnect_delay_max=1)
        process = relay(**opts)
        producer = broker.Producer(broker.url(source), 'demo')
        producer.send('thing.update', thing('a', state='x'))
        broker.wait_for('the acknowledgement', lambda: process.metric(
            'translator_messages_acknowledged_total') == 1, log=process.log)
        proxy.cut()
        broker.wait_for('a reconnection', lambda: process.log.read_text().count(
            'target bus: connected') == 2, log=process.log)
        producer.send('thing.update', thing('b', state='x'))
        producer.send('thing.update', thing('c', state='y'))
        producer.close()
        got = out.take(2) + out.rest()
        assert [versioned_message(m)['payload']['demo_object.data']['name']
                for m in got] == ['a', 'c']
        assert process.metric(
            'translator_unchanged_updates_suppressed_total') == 1
