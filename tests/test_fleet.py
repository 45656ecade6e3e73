"""The relay as a fleet's format switchboard, judged with Nova 34's own
code: Nova at each of its three notification_format values publishes to
the real broker (tests/nova_real/emit.py in .venv-nova), the relay at each
of its three, and each event must reach the target exactly once in each
format the relay's asks for, whatever Nova sent.

Each event is known by the request id of its action; every output of the
relay and every message of Nova carries it.
"""

import collections
import json
import subprocess

import pytest

from tests import broker
from tests import judges
from tests.conftest import MAPPINGS

FORMATS = ('unversioned', 'versioned', 'both')
SENDS = {'unversioned': {'legacy'}, 'versioned': {'versioned'},
         'both': {'legacy', 'versioned'}}
#: The private topics Nova sends to in that deployment.
PRIVATE = {'legacy': 'notifications_nova', 'versioned': 'versioned_nova'}


def emit(vhost, fmt, host='compute-7', private=False):
    """Nova 34 publishes one notification per action in each format it is
    set to; the request id of each action."""
    command = [str(judges.NOVA_PYTHON), str(judges.NOVA_EMIT), '--format',
               fmt, '--host', host, '--transport-url', broker.url(vhost)]
    if private:
        command += ['--legacy-topic', PRIVATE['legacy'],
                    '--versioned-topic', PRIVATE['versioned']]
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line)['request_id']
            for line in result.stdout.splitlines()]


def relay_options(vhost, fmt, private=False, **relay):
    options = {'source': {'transport_url': broker.url(vhost)},
               'notifications': {'notification_format': fmt},
               'legacy': {'image_url': judges.NOVA_LEGACY_OPTIONS[
                   'image_url']},
               'relay': dict(relay, mappings_dir=MAPPINGS)}
    if private:
        options['source'].update(topics=PRIVATE['legacy'],
                                 versioned_topics=PRIVATE['versioned'])
    return options


class Bus:
    """Everything on exchange nova, by format and request id."""

    def __init__(self, vhost):
        self.collector = broker.Collector(vhost, 'nova', '#')

    def counts(self, expected, process, timeout=60):
        """{(format, request id): copies} once ``expected`` messages of the
        public topics are in and the relay holds and has in flight
        nothing, and whatever else comes meanwhile."""
        got = self.collector.take(expected, timeout=timeout)
        broker.wait_for('the relay idle', lambda: process.metric(
            'translator_held_messages') == process.metric(
            'translator_in_flight_messages') == 0, log=process.log)
        got += self.collector.rest(settle=0.5)
        counts = collections.Counter()
        other = []
        for message in got:
            topic = message.delivery_info['routing_key'].rpartition('.')[0]
            body = json.loads(message.body)
            inner = json.loads(body['oslo.message'])
            if topic == 'notifications':
                counts[('legacy', inner['_context_request_id'])] += 1
            elif topic == 'versioned_notifications':
                counts[('versioned', inner['_context_request_id'])] += 1
            elif topic not in PRIVATE.values():
                other.append((topic, inner.get('event_type')))
        return counts, other

    def close(self):
        self.collector.close()


def exactly(request_ids, formats):
    return collections.Counter({(fmt, request_id): 1
                                for request_id in request_ids
                                for fmt in formats})


@pytest.mark.parametrize('relay_format', FORMATS)
@pytest.mark.parametrize('nova_format', FORMATS)
def test_private_topics_carry_each_event_once_in_each_format(
        relay, nova_format, relay_format):
    """Nova sends to topics only the relay reads: the public ones get
    exactly the formats of the relay's notification_format."""
    wanted = SENDS[relay_format]
    with broker.vhost() as vhost:
        bus = Bus(vhost)
        process = relay(**relay_options(vhost, relay_format, private=True))
        events = emit(vhost, nova_format, private=True)
        counts, other = bus.counts(len(events) * len(wanted), process)
        assert other == []
        assert counts == exactly(events, wanted)
        for fmt in ('legacy', 'versioned'):
            assert process.metric('translator_duplicates_total',
                                  format=fmt) == 0
        bus.close()


@pytest.mark.parametrize('relay_format', FORMATS)
@pytest.mark.parametrize('nova_format', FORMATS)
def test_the_same_bus_gets_what_is_missing_and_never_a_second_copy(
        relay, nova_format, relay_format):
    """Nova and the relay at their defaults on one bus: what Nova sent is
    there once, the relay adds the formats its notification_format asks
    for that Nova did not send, once."""
    present = SENDS[nova_format] | SENDS[relay_format]
    with broker.vhost() as vhost:
        bus = Bus(vhost)
        process = relay(**relay_options(vhost, relay_format))
        events = emit(vhost, nova_format)
        counts, other = bus.counts(len(events) * len(present), process)
        assert other == []
        assert counts == exactly(events, present)
        for fmt in ('legacy', 'versioned'):
            assert process.metric('translator_duplicates_total',
                                  format=fmt) == 0
        made = len(events) * len(SENDS[relay_format] - SENDS[nova_format])
        assert process.metric('translator_own_outputs_total') == made
        bus.close()


def test_hosts_at_different_formats_each_get_what_they_lack(relay):
    """During an upgrade: one host at both, one at unversioned, one at
    versioned, at the same time, the relay at both on the same bus."""
    with broker.vhost() as vhost:
        bus = Bus(vhost)
        process = relay(**relay_options(vhost, 'both'))
        events = []
        procs = []
        for host, fmt in (('compute-a', 'both'), ('compute-b', 'unversioned'),
                          ('compute-c', 'versioned')):
            procs.append(subprocess.Popen(
                [str(judges.NOVA_PYTHON), str(judges.NOVA_EMIT), '--format',
                 fmt, '--host', host, '--transport-url', broker.url(vhost)],
                stdout=subprocess.PIPE, text=True))
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0
            events += [json.loads(line)['request_id']
                       for line in out.splitlines()]
        counts, other = bus.counts(len(events) * 2, process)
        assert other == []
        assert counts == exactly(events, ('legacy', 'versioned'))
        bus.close()


def test_a_host_that_changes_its_format_while_the_relay_runs(relay):
    """unversioned, both, versioned, unversioned again, one after the
    other: every event in both formats; a duplicate only for the first
    event of a host that began to send both formats (the relay made the
    versioned one before Nova's came), counted. emit.py's actions come
    from two hosts: the compute host and a conductor's."""
    with broker.vhost() as vhost:
        bus = Bus(vhost)
        process = relay(**relay_options(vhost, 'both'))
        events, phases = [], {}
        for fmt in ('unversioned', 'both', 'versioned', 'unversioned'):
            sent = emit(vhost, fmt)
            phases.update((request_id, fmt) for request_id in sent)
            events += sent
            # what a host sends after a restart follows what it sent before
            broker.wait_for('the events relayed', lambda: process.metric(
                'translator_held_messages') == 0, timeout=30)
        counts, other = bus.counts(len(events) * 2, process)
        assert other == []
        duplicates = process.metric('translator_duplicates_total',
                                    format='versioned')
        twice = [key for key, n in counts.items() if n == 2]
        assert set(counts) == set(exactly(events, ('legacy', 'versioned')))
        assert all(n in (1, 2) for n in counts.values())
        assert len(twice) == duplicates <= 2
        assert {phases[request_id] for _, request_id in twice} <= {'both'}
        assert process.metric('translator_duplicates_total',
                              format='legacy') == 0
        bus.close()



def test_a_host_that_starts_sending_both_formats_on_private_topics(relay):
    """From unversioned to both: the first versioned notification of each
    host, made by the relay before Nova's came, is not passed on twice: on
    topics only the relay reads, the change gives no duplicate."""
    with broker.vhost() as vhost:
        bus = Bus(vhost)
        process = relay(**relay_options(vhost, 'both', private=True))
        events = emit(vhost, 'unversioned', private=True)
        events += emit(vhost, 'both', private=True)
        counts, other = bus.counts(len(events) * 2, process)
        assert other == []
        assert counts == exactly(events, ('legacy', 'versioned'))
        for fmt in ('legacy', 'versioned'):
            assert process.metric('translator_duplicates_total',
                                  format=fmt) == 0
        bus.close()
