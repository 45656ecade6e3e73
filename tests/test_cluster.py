"""The relay on a 3-node RabbitMQ cluster, its pool a quorum queue and its
URL naming every node: a node stops or dies under load and comes back,
and two relays on different nodes share the pool.

Each failover test prints its figures; README's come from
``.venv/bin/python -m pytest tests/test_cluster.py -s``.
"""

import datetime
import re
import time
import uuid

import amqp
import pytest

from tests import broker
from tests import cluster as cluster_module
from tests.test_relay import thing
from tests.test_relay import versioned_message
from translator import envelope

TOTAL = 20000
PREFETCH = 1000  # the relay's default
SINK = 'sink'


@pytest.fixture(scope='module')
def cluster():
    nodes = cluster_module.Cluster().start()
    yield nodes
    nodes.stop()


@pytest.fixture
def vhost(cluster):
    with broker.vhost(node=cluster.nodes[0].node) as name:
        yield name


def quorum(channel, queue, binding):
    channel.queue_declare(queue, durable=True, auto_delete=False,
                          arguments={'x-queue-type': 'quorum'})
    channel.queue_bind(queue, 'demo', binding)


class Bus:
    """The cluster as the services and the consumers see it, through a
    node that the test leaves running."""

    def __init__(self, cluster, vhost, node):
        self.conn = broker.connection(vhost, node.port)
        self.channel = self.conn.channel()
        # durable, as the quorum queues bound to it
        self.channel.exchange_declare('demo', 'topic', durable=True,
                                      auto_delete=False)
        quorum(self.channel, 'translator', 'notifications.*')
        quorum(self.channel, SINK, 'versioned_notifications.*')

    def send(self, names):
        for name in names:
            self.channel.basic_publish(amqp.Message(envelope.wire_body(dict(
                event_type='thing.create.end', payload=thing(name),
                publisher_id='compute.host1', priority='INFO',
                message_id=str(uuid.uuid4()),
                timestamp='2026-11-30 10:00:00.000000'))),
                exchange='demo', routing_key='notifications.info')

    def depth(self, queue):
        return self.channel.queue_declare(queue, passive=True).message_count

    def wait_depth(self, queue, predicate, timeout=300):
        deadline = time.monotonic() + timeout
        while not predicate(self.depth(queue)):
            assert time.monotonic() < deadline, (queue, self.depth(queue))
            time.sleep(0.1)

    def drain(self, processes, expected):
        """Names of the versioned notifications in the sink, duplicates
        included, once the relays have acknowledged ``expected`` messages
        and have none left in flight."""
        deadline = time.monotonic() + 300
        while self.depth('translator') or sum(
                process.metric('translator_in_flight_messages')
                for process in processes) or sum(
                process.metric('translator_messages_acknowledged_total')
                for process in processes) < expected:
            assert time.monotonic() < deadline, [
                process.log.read_text() for process in processes]
            time.sleep(0.2)
        names = []
        self.channel.basic_qos(0, 5000, False)
        self.channel.basic_consume(SINK, no_ack=True, callback=lambda m: (
            names.append(versioned_message(m)['payload'][
                'demo_object.data']['name'])))
        while True:
            try:
                self.conn.drain_events(timeout=2)
            except TimeoutError:
                return names

    def close(self):
        self.conn.close()


_CONNECTED = re.compile(r'^(\S+ \S+) .* source bus: connected to '
                        r'[\d.]+:(\d+)', re.M)


def source_connections(process):
    """(wall-clock time, port) of each connection of the relay's source."""
    return [(datetime.datetime.strptime(stamp, '%Y-%m-%d %H:%M:%S.%f')
             .timestamp(), int(port))
            for stamp, port in _CONNECTED.findall(process.log.read_text())]


def start_relay(relay, cluster, vhost, mappings):  # noqa: F811
    # A legacy stream only: services' versioned notifications are not
    # read, so the relay's own outputs do not come back to its pool and
    # every acknowledgement counts a message the test sent.
    return relay(source={'transport_url': cluster.url(vhost),
                         'exchanges': 'demo', 'rabbit_quorum_queue': 'true',
                         'amqp_durable_queues': 'true',
                         'versioned_topics': ''},
                 notifications={'notification_format': 'versioned'},
                 relay={'mappings_dir': mappings, 'prefetch': PREFETCH,
                        'reconnect_delay_max': 2})


@pytest.mark.parametrize('fault', ['stop', 'kill -9'])
def test_node_of_the_relay_fails_under_load_and_comes_back(
        cluster, vhost, mappings, relay, fault):  # noqa: F811
    names = ['n%d' % i for i in range(TOTAL)]
    feed = Bus(cluster, vhost, cluster.nodes[0])
    feed.send(names)
    # Sent without publisher confirms: until the pool holds them all, a
    # node killed may take the last few with it, before any relay saw them.
    feed.wait_depth('translator', lambda depth: depth == TOTAL)
    feed.close()
    process = start_relay(relay, cluster, vhost, mappings)
    [(_, port)] = source_connections(process)
    victim = cluster.node_on(port)
    out = Bus(cluster, vhost, cluster.other_than(victim))
    out.wait_depth(SINK, lambda depth: depth >= TOTAL // 4)
    if fault == 'stop':
        failed_at = time.time()
        victim.stop()
    else:
        failed_at = cluster_module.kill(victim)
    deadline = time.monotonic() + 120
    while len(source_connections(process)) < 2:
        assert time.monotonic() < deadline, process.log.read_text()
        time.sleep(0.05)
    reconnected_at, new_port = source_connections(process)[1]
    assert new_port != victim.port
    cluster_module.restart(victim)
    failures = process.log.read_text().count('bus failure')
    # what flows once the node is back goes on where the relay is
    more = ['m%d' % i for i in range(PREFETCH)]
    out.send(more)
    got = out.drain([process], TOTAL + len(more))
    assert process.log.read_text().count('bus failure') == failures
    assert [port for _, port in source_connections(process)] == [
        victim.port, new_port]
    lost = set(names + more) - set(got)
    duplicates = len(got) - len(set(got))
    print('\n%s of the node the relay consumed from, %d messages: %d lost, '
          '%d duplicates, reconnected to another node after %.2f s'
          % (fault, TOTAL + len(more), len(lost), duplicates,
             reconnected_at - failed_at))
    assert not lost
    assert duplicates <= PREFETCH
    out.close()


def test_two_relays_on_different_nodes_share_the_pool_exactly(
        cluster, vhost, mappings, relay):  # noqa: F811
    feed = Bus(cluster, vhost, cluster.nodes[0])
    first = start_relay(relay, cluster, vhost, mappings)
    # each relay starts on a random node: start the second again until
    # it is on another (2 chances in 3 each time)
    for _ in range(12):
        second = start_relay(relay, cluster, vhost, mappings)
        if source_connections(second)[0][1] != \
                source_connections(first)[0][1]:
            break
        second.stop()
    else:
        pytest.fail('twelve relays in a row chose the first one\'s node')
    names = ['n%d' % i for i in range(TOTAL)]
    feed.send(names)
    got = feed.drain([first, second], TOTAL)
    acknowledged, redelivered = ([process.metric(name) for process in (
        first, second)] for name in ('translator_messages_acknowledged_total',
                                     'translator_messages_redelivered_total'))
    assert set(got) == set(names)
    # Each once, unless the broker delivered some again (a connection,
    # channel or queue leader lost): then no more copies than the relays
    # counted redeliveries, and no more acknowledgements.
    assert len(got) - TOTAL <= sum(redelivered), (redelivered, [
        process.log.read_text()[-4000:] for process in (first, second)])
    assert TOTAL <= sum(acknowledged) <= TOTAL + sum(redelivered)
    assert min(acknowledged) > 0
    feed.close()
