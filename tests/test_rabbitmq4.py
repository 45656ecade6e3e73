"""The relay on RabbitMQ 4 (Debian 13's rabbitmq-server, tests/rabbit4.py)
with every deprecated feature an AMQP 0-9-1 client can touch denied: at
its defaults, with oslo.messaging's own Notifier and listener as services
configured for such a broker (amqp_durable_queues), default queues, dead
letters, quorum queues, a broker restart under load, a 3-node cluster
losing a node, and TLS."""

import json
import os
import re
import threading
import time

import amqp
import oslo_messaging
import pytest

from tests import broker
from tests import cluster as cluster_module
from tests import rabbit4
from tests import tls
from tests.conftest import DEMO_MAPPINGS, ID, write_mappings
from tests.test_relay import thing


@pytest.fixture(scope='module')
def node4(tmp_path_factory):
    node = rabbit4.Rabbit4Broker(tmp_path_factory.mktemp('rabbit4')).start()
    yield node
    node.stop()


@pytest.fixture
def vhost4(node4):
    with node4.vhost() as name:
        yield name


@pytest.fixture
def demo(tmp_path):
    return write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)


def relay_options(url, mappings, **source):
    return {'source': dict(source, transport_url=url, exchanges='demo'),
            'relay': {'mappings_dir': mappings, 'reconnect_delay_max': 1}}


class Listener:
    """An oslo.messaging notification listener, as a consumer of the
    versioned notifications configured for this broker."""

    def __init__(self, url, exchange, topic='versioned_notifications'):
        self.got = []
        self.lock = threading.Lock()
        self.transport = broker.notification_transport(url, exchange,
                                                       durable=True)
        self.listener = oslo_messaging.get_notification_listener(
            self.transport, [oslo_messaging.Target(topic=topic)], [self],
            executor='threading')
        self.listener.start()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.lock:
            self.got.append(payload)

    def names(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.lock:
            return [p['demo_object.data']['name'] for p in self.got]

    def close(self):
        self.listener.stop()
        self.listener.wait()
        self.transport.cleanup()


def test_at_its_defaults_beside_services_configured_for_the_broker(
        node4, vhost4, demo, relay):
    """The relay started first, at its defaults: what it creates is durable
    (the broker takes nothing else), so the services' own declarations
    with amqp_durable_queues succeed after it; their notifications reach an
    oslo.messaging listener, translated."""
    url = node4.url(vhost4)
    process = relay(**relay_options(url, demo))
    producer = broker.Producer(url, 'demo', durable=True)
    listener = Listener(url, 'demo')
    for i in range(20):
        producer.send('thing.create.end', thing('n%d' % i))
    assert sorted(listener.names(20)) == sorted('n%d' % i for i in range(20))
    found = broker.queues(vhost4, node4.ctl)
    # what the relay made: all durable, the default queue as the Notifier
    # with amqp_durable_queues would have made it
    assert found['translator'][1:3] == (True, 'classic')
    assert found['notifications_dead_letter'][1:3] == (True, 'classic')
    assert found['versioned_notifications.info'][1:3] == (True, 'classic')
    assert found['notifications.info'][1:3] == (True, 'classic')
    assert 'bus failure' not in process.log.read_text()
    listener.close()
    producer.close()


def test_dead_letters_are_kept(node4, vhost4, demo, relay):
    url = node4.url(vhost4)
    relay(**relay_options(url, demo))
    producer = broker.Producer(url, 'demo', durable=True)
    producer.send('other.event', {'x': 1})
    producer.close()
    broker.publish_raw(vhost4, 'demo', 'notifications.info', b'{not json',
                       port=node4.port)
    dead = broker.read_queue(vhost4, 'notifications_dead_letter', 2,
                             port=node4.port)
    assert sorted(m.properties['application_headers'][
        'x-translator-outcome'] for m in dead) == ['malformed', 'unmapped']


def test_quorum_queues_drop_nothing_however_often_redelivered(
        node4, vhost4, demo, relay):
    """With rabbit_quorum_queue the pool, the dead-letter queue and the
    default queues are quorum queues; the relay's own drop nothing
    redelivered more than RabbitMQ 4's default limit (20), the default
    queues keep oslo's rabbit_quorum_delivery_limit."""
    url = node4.url(vhost4)
    process = relay(**relay_options(url, demo, rabbit_quorum_queue='true',
                                    rabbit_quorum_delivery_limit='7'))
    producer = broker.Producer(url, 'demo', durable=True)
    producer.send('thing.create.end', thing('q'))
    producer.close()
    broker.wait_for('the relay', lambda: process.metric(
        'translator_messages_acknowledged_total') >= 1)
    process.stop()
    found = broker.queues(vhost4, node4.ctl)
    for name in ('translator', 'notifications_dead_letter'):
        assert found[name][2] == 'quorum'
        assert found[name][3]['x-delivery-limit'] == -1
    assert found['versioned_notifications.info'][2] == 'quorum'
    assert found['versioned_notifications.info'][3]['x-delivery-limit'] == 7
    # a message delivered again and again stays in the pool
    conn = broker.connection(vhost4, node4.port)
    channel = conn.channel()
    broker.wait_for('the relay gone', lambda: channel.queue_declare(
        'translator', passive=True).consumer_count == 0)
    channel.basic_publish(amqp.Message(b'x', delivery_mode=2),
                          exchange='demo', routing_key='notifications.info')
    for returned in range(26):
        message = broker.wait_for(
            'the message after %d returns' % returned,
            lambda: channel.basic_get('translator'), timeout=10)
        channel.basic_reject(message.delivery_tag, requeue=True)
    assert message.body == b'x'
    conn.close()


def test_a_pool_declared_otherwise_stops_the_relay_with_one_line(
        node4, vhost4, demo, tmp_path):
    """A classic pool that the relay is now to make a quorum queue: the
    broker refuses, for good; the relay says so once, naming the option,
    and exits 2 instead of retrying for ever."""
    conn = broker.connection(vhost4, node4.port)
    conn.channel().queue_declare('translator', durable=True,
                                 auto_delete=False)
    conn.close()
    process = broker.RelayProcess(tmp_path, **relay_options(
        node4.url(vhost4), demo, rabbit_quorum_queue='true'))
    process.start(ready=False)
    assert process.proc.wait(30) == 2
    log = process.log.read_text()
    [line] = [line for line in log.splitlines() if 'relay stopped' in line]
    assert "[source] pool 'translator': the broker refuses it" in line
    assert line.count("inequivalent arg 'x-queue-type'") == 1
    assert ('set [source] rabbit_quorum_queue and single_active_consumer '
            'as it was declared, or delete it') in line
    assert 'retrying' not in log


def test_a_broker_restart_under_load_loses_nothing(tmp_path, demo, relay):
    """Its own node: stopped and started again while messages flow; every
    one comes out (the pool and the outputs durable, as the broker
    demands)."""
    node = rabbit4.Rabbit4Broker(tmp_path / 'node').start()
    try:
        url = node.url()
        relay(**relay_options(url, demo, confirm_timeout='2'))
        out = broker.Collector('/', 'demo', 'versioned_notifications.*',
                               port=node.port, durable=True,
                               queue='sink')
        out.close()
        feed = broker.connection('/', node.port)
        channel = feed.channel()
        channel.confirm_select()
        names = ['r%d' % i for i in range(3000)]
        for i, name in enumerate(names):
            if i == 1500:
                node.stop_app()
                node.start_app()
                feed = broker.connection('/', node.port)
                channel = feed.channel()
                channel.confirm_select()
            channel.basic_publish(amqp.Message(wire(name), delivery_mode=2),
                                  exchange='demo',
                                  routing_key='notifications.info')
        feed.close()
        got = broker.read_queue('/', 'sink', len(names), timeout=120,
                                port=node.port)
        received = {json.loads(json.loads(m.body)['oslo.message'])[
            'payload']['demo_object.data']['name'] for m in got}
        assert received == set(names)
    finally:
        node.stop()


def wire(name):
    return json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps({
        'event_type': 'thing.create.end', 'publisher_id': 'compute.h1',
        'payload': {'id': ID, 'name': name},
        'message_id': 'm-%s' % name, 'priority': 'INFO',
        'timestamp': '2026-12-07 10:00:00.000000'})})


def test_a_cluster_losing_the_node_of_the_relay_loses_nothing(demo, relay):
    """Three nodes, a quorum pool; the node the relay consumes from is
    killed halfway: every message comes out, duplicates at most a
    prefetch."""
    nodes = rabbit4.Cluster().start()
    try:
        vhost = '/'
        total, prefetch = 4000, 500
        process = relay(**{'source': {
            'transport_url': nodes.url(), 'exchanges': 'demo',
            'rabbit_quorum_queue': 'true', 'versioned_topics': ''},
            'relay': {'mappings_dir': demo, 'prefetch': prefetch,
                      'reconnect_delay_max': 1}})
        [port] = [int(p) for p in re.findall(
            r'source bus: connected to [\d.]+:(\d+)',
            process.log.read_text())]
        victim = nodes.node_on(port)
        other = nodes.other_than(victim)
        sink = broker.Collector(vhost, 'demo', 'versioned_notifications.*',
                                port=other.port, durable=True, queue='sink')
        sink.close()
        feed = broker.connection(vhost, other.port)
        channel = feed.channel()
        channel.confirm_select()
        for i in range(total):
            if i == total // 2:
                cluster_module.kill(victim)
            channel.basic_publish(amqp.Message(wire('c%d' % i),
                                               delivery_mode=2),
                                  exchange='demo',
                                  routing_key='notifications.info')
        feed.close()
        got = broker.read_queue(vhost, 'sink', total, timeout=120,
                                port=other.port)
        got += broker.read_queue(vhost, 'sink', prefetch, timeout=3,
                                 port=other.port)  # the duplicates
        names = [json.loads(json.loads(m.body)['oslo.message'])['payload'][
            'demo_object.data']['name'] for m in got]
        assert set(names) == {'c%d' % i for i in range(total)}
        assert len(names) - total <= prefetch
    finally:
        nodes.stop()


def test_tls_end_to_end(tmp_path, demo, relay):
    """A node that takes TLS 1.2 only, with a client certificate: the
    relay connects with the options copied from nova.conf."""
    certs = tls.make_certificates(tmp_path / 'certs')
    os.chmod(tmp_path, 0o755)
    tls_port = broker.free_port()
    node = rabbit4.Rabbit4Broker(
        tmp_path / 'node', config=tls.listener(tls_port, certs, certs.server,
                                               certs.server_key),
        paths=[tmp_path / 'certs']).start()
    node.tls_port = tls_port
    try:
        out = broker.Collector('/', 'demo', 'versioned_notifications.*',
                               port=node.port, durable=True, queue='sink')
        opts = relay_options(tls.tls_url(node), demo, ssl='true',
                             ssl_ca_file=certs.ca, ssl_cert_file=certs.client,
                             ssl_key_file=certs.client_key)
        process = relay(**opts)
        broker.publish_raw('/', 'demo', 'notifications.info',
                           wire('t').encode(), port=node.port)
        [message] = out.take(1)
        assert json.loads(json.loads(message.body)['oslo.message'])[
            'payload']['demo_object.data']['name'] == 't'
        assert 'over TLS' in process.log.read_text()
        out.close()
    finally:
        node.stop()

