"""The relay end to end, against the machine's real RabbitMQ."""

import json
import signal
import time

import orjson
import pytest

from tests import bus
from tests.conftest import DEMO_MAPPINGS, ID, write_mappings

def thing(name, **extra):
    return dict(id=ID, name=name, **extra)


def versioned_message(amqp_message):
    body = json.loads(amqp_message.body)
    assert body['oslo.version'] == '2.0'
    return json.loads(body['oslo.message'])


@pytest.fixture
def vhost():
    with bus.vhost() as name:
        yield name


@pytest.fixture
def relay(tmp_path):
    started = []

    def start(**options):
        process = bus.RelayProcess(tmp_path / str(len(started)), **options)
        started.append(process)
        return process.start()
    yield start
    for process in started:
        process.stop()


@pytest.fixture
def mappings(tmp_path):
    return write_mappings(tmp_path / 'mappings', DEMO_MAPPINGS)


def options(vhost, mappings, fmt='both', target=None, **relay_opts):
    return {'source': {'transport_url': bus.url(vhost),
                       'exchanges': 'demo'},
            'target': {'transport_url': bus.url(target)} if target else {},
            'notifications': {'notification_format': fmt},
            'relay': dict(relay_opts, mappings_dir=mappings)}


def test_both_on_same_bus_publishes_versioned_and_no_second_copy(
        vhost, mappings, relay):
    versioned = bus.Collector(vhost, 'demo', 'versioned_notifications.*')
    legacy = bus.Collector(vhost, 'demo', 'notifications.*')
    process = relay(**options(vhost, mappings))
    producer = bus.Producer(bus.url(vhost), 'demo')
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
    assert bus.queue_depth(vhost, 'translator') == 0
    assert process.metric('translator_messages_acknowledged_total') == 20
    producer.close()
