"""Nothing vanishes on the bus: every outcome waits in a queue even when no
consumer has bound one, a returned dead letter is never acknowledged, the
log stays bounded, and dead letters can be listed and replayed.

Each test runs in a fresh vhost where the test binds nothing of its own
before the relay has published, unless it says so.
"""

import re
import subprocess
import sys
import time

import pytest

from tests import broker
from tests import contracts
from tests.conftest import ID, write_mappings
from tests.test_relay import (nova_real, options, thing,
                              versioned_message)
from translator import translation

H = 'x-translator-'


def as_bytes(body):
    return body.encode() if isinstance(body, str) else body


def headers(message):
    contracts.check_output(message)
    return message.properties['application_headers']


def bindings(vhost):
    rows = broker.ctl('list_bindings', '-p', vhost, '--no-table-headers',
                   'source_name', 'destination_name',
                   'routing_key').stdout.splitlines()
    return {tuple(row.split('\t')) for row in rows}


@pytest.mark.parametrize('deployment', ['same bus', 'private topic'])
def test_with_the_defaults_every_outcome_waits_in_a_queue(vhost, relay,
                                                          deployment):
    """The issue's new user: shipped mappings and defaults, a real Nova
    message, a non-JSON body and an unknown event type on exchange nova."""
    private = deployment == 'private topic'
    opts = {'source': {'transport_url': broker.url(vhost)}}
    if private:
        opts['source']['topics'] = 'notifications_legacy'
    process = relay(**opts)
    # Before anything was consumed, the dead-letter queue is there, bound
    # on every exchange a dead letter may go to.
    assert {('nova', 'notifications_dead_letter', 'notifications_dead_letter.*'),
            ('trove', 'notifications_dead_letter', 'notifications_dead_letter.*'),
            ('openstack', 'notifications_dead_letter',
             'notifications_dead_letter.*')} <= bindings(vhost)
    legacy = nova_real()['input']
    producer = broker.Producer(broker.url(vhost), 'nova',
                            publisher_id=legacy['publisher_id'],
                            topic=opts['source'].get('topics',
                                                     'notifications'))
    producer.send(legacy['event_type'], legacy['payload'])
    producer.send('compute.instance.unheard_of', {'x': 1})
    producer.close()
    broker.publish_raw(vhost, 'nova', opts['source'].get(
        'topics', 'notifications') + '.info', b'{not json')
    # the versioned one comes back to the pool too, which reads services'
    # versioned notifications: passed over as the relay's own
    broker.wait_for('acknowledgements', lambda: process.metric(
        'translator_messages_acknowledged_total') == 4
        and process.metric('translator_own_outputs_total') == 1)

    found = broker.queues(vhost)
    [versioned] = broker.read_queue(vhost, 'versioned_notifications.info', 1)
    assert versioned_message(versioned)['event_type'] == \
        'instance.create.end'
    dead = broker.read_queue(vhost, 'notifications_dead_letter', 2)
    assert sorted(headers(m)[H + 'outcome'] for m in dead) == [
        'malformed', 'unmapped']
    assert {headers(m)[H + 'source-exchange'] for m in dead} == {'nova'}
    # Kept like the relay's pool queue; the default queue as a Notifier
    # with amqp_durable_queues off would declare it.
    assert found['notifications_dead_letter'][:3] == (2, True, 'classic')
    assert found['versioned_notifications.info'][:3] == (1, False, 'classic')
    if private:
        # the legacy copies of all three, where legacy consumers look
        copies = broker.read_queue(vhost, 'notifications.info', 3)
        assert len(copies) == 3
    else:
        # the services' own Notifier declared it: the relay adds no copy
        assert found['notifications.info'][0] == 3
    assert found['translator'][0] == 0
    for kind in ('versioned', 'legacy', 'dead_letter'):
        assert process.metric('translator_unroutable_total', kind=kind) == 0


def test_quorum_setting_makes_the_dead_letter_queue_a_quorum_queue(
        vhost, mappings, relay):
    opts = options(vhost, mappings)
    opts['source']['rabbit_quorum_queue'] = 'true'
    relay(**opts)
    assert broker.queues(vhost)['notifications_dead_letter'][:3] == (
        0, True, 'quorum')


def test_dead_letters_mask_context_secrets_and_keep_every_other_byte(
        vhost, mappings, relay):
    sent = broker.Collector(vhost, 'demo', 'notifications.*')
    relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    producer.send('other.event', {'x': 'kept as it was, "quoted" é'})
    producer.close()
    [original] = sent.take(1)
    [dead] = broker.read_queue(vhost, 'notifications_dead_letter', 1)
    assert b'secret-token-value' in as_bytes(original.body)
    assert as_bytes(dead.body) == as_bytes(original.body).replace(
        b'"secret-token-value', b'"***')


def test_a_body_that_cannot_be_parsed_is_kept_without_its_secrets(
        vhost, mappings, relay):
    """A Notifier's message with a byte that is not UTF-8: malformed, and
    dead-lettered with its token masked, every other byte as it came."""
    sent = broker.Collector(vhost, 'demo', 'notifications.*')
    relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    producer.send('thing.create.end', thing('a'))
    producer.close()
    [original] = sent.take(1)
    body = as_bytes(original.body).replace(b'\\"a\\"', b'\\"\xff\\"')
    assert b'\xff' in body
    broker.publish_raw(vhost, 'demo', 'notifications.info', body)
    [dead] = broker.read_queue(vhost, 'notifications_dead_letter', 1)
    assert headers(dead)['x-translator-outcome'] == 'malformed'
    assert b'secret-token-value' in body
    assert as_bytes(dead.body) == body.replace(b'secret-token-value',
                                               b'***')


def test_a_deleted_dead_letter_queue_loses_nothing_under_traffic(
        vhost, mappings, relay):
    """Dead letters returned unroutable are held, the queue is declared
    again, and every dead letter sent after the deletion is kept; even
    when the operator lets unroutable notifications go."""
    opts = options(vhost, mappings, 'versioned', reconnect_delay_max=1)
    opts['target'] = {'unroutable': 'acknowledge'}
    process = relay(**opts)
    conn = broker.connection(vhost)
    channel = conn.channel()
    total, deleted_after = 600, None
    for start in range(0, total, 20):
        broker.publish_raw(vhost, 'demo', 'notifications.info', *[
            b'not json %d' % i for i in range(start, start + 20)])
        if deleted_after is None and broker.queue_depth(
                vhost, 'notifications_dead_letter') >= 100:
            channel.queue_delete('notifications_dead_letter')
            deleted_after = start + 20
        time.sleep(0.02)
    conn.close()
    assert deleted_after is not None and deleted_after < total
    broker.wait_for('all acknowledged', lambda: process.metric(
        'translator_messages_acknowledged_total') >= total,
        log=process.log)
    kept = set()
    for message in broker.read_queue(vhost, 'notifications_dead_letter', total,
                                  timeout=5):
        kept.add(int(as_bytes(message.body).split()[-1]))
    assert set(range(deleted_after, total)) <= kept
    assert process.metric('translator_unroutable_total',
                          kind='dead_letter') >= 1
    assert broker.queues(vhost)['translator'][0] == 0
    assert 'unroutable dead_letter' in process.log.read_text()


@pytest.mark.parametrize('choice', ['hold', 'acknowledge'])
def test_unroutable_versioned_outputs_without_default_queues(
        vhost, mappings, relay, choice):
    opts = options(vhost, mappings, 'versioned', reconnect_delay_max=1)
    opts['target'] = {'declare_default_queues': 'false',
                      'unroutable': choice}
    # reading services' versioned notifications, its pool would take the
    # outputs nobody else does: the relay refuses that (test_config)
    opts['source']['versioned_topics'] = ''
    process = relay(**opts)
    producer = broker.Producer(broker.url(vhost), 'demo')
    for i in range(5):
        producer.send('thing.create.end', thing('n%d' % i))
    producer.close()
    broker.wait_for('returns', lambda: process.metric(
        'translator_unroutable_total', kind='versioned') >= 5)
    assert 'versioned_notifications.info' not in broker.queues(vhost)
    if choice == 'acknowledge':
        broker.wait_for('acknowledgements', lambda: process.metric(
            'translator_messages_acknowledged_total') == 5)
        assert broker.queues(vhost)['translator'][0] == 0
        return
    time.sleep(2)  # returned again and again, never acknowledged
    assert process.metric('translator_messages_acknowledged_total') == 0
    assert broker.queues(vhost)['translator'][0] == 5
    assert 'holding' in process.log.read_text()
    # Once a consumer binds its queue, everything flows.
    out = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
    names = set()
    broker.wait_for('the held messages', lambda: names.update(
        versioned_message(m)['payload']['demo_object.data']['name']
        for m in out.take(1, timeout=0.2)) or len(names) == 5, timeout=30)
    broker.wait_for('acknowledgements', lambda: process.metric(
        'translator_messages_acknowledged_total') == 5)


def test_ten_thousand_bad_messages_leave_a_bounded_log(vhost, mappings,
                                                       relay):
    total = 10000
    process = relay(**options(vhost, mappings, 'versioned',
                              problem_log_interval=1))
    broker.publish_raw(vhost, 'demo', 'notifications.info',
                    *[b'not json %d' % i for i in range(total)])
    broker.wait_for('dead letters', lambda: process.metric(
        'translator_dead_letters_total', reason='malformed') == total,
        timeout=120)

    def logged():
        # the first of an interval, then "N more in the last 1 s"
        text = process.log.read_text()
        return (text.count('dead letter (malformed): not valid JSON') +
                sum(int(n) for n in re.findall(
                    r'dead letter \(malformed\): (\d+) more in the last',
                    text)))
    broker.wait_for('every dead letter accounted for in the log',
             lambda: logged() == total, timeout=10)
    lines = process.log.read_text().splitlines()
    assert len(lines) < 60, lines


GADGET = {'demo/gadget.yaml': '''
    payloads:
      GadgetPayload:
        version: "1.0"
        history: {"1.0": Initial version}
        fields:
          id: {type: uuid, source: id}
          size: {type: int, source: size}
    rules:
      - match: gadget.create.end
        event_type: gadget.create.end
        payload: GadgetPayload
'''}


def translator_command(process, *args):
    return subprocess.run(
        [sys.executable, '-m', 'translator.cli', *args, '--config-file',
         str(process.config)], capture_output=True, text=True, timeout=120)


def test_a_replay_sends_no_second_legacy_copy(vhost, mappings, relay):
    """In a private-topic deployment with format both, the legacy copy of
    a dead letter went out when it first came: a replay adds only the
    versioned notification."""
    legacy = broker.Collector(vhost, 'demo', 'notifications.*')
    opts = options(vhost, mappings, 'both')
    opts['source']['topics'] = 'legacy_private'
    process = relay(**opts)
    producer = broker.Producer(broker.url(vhost), 'demo', topic='legacy_private')
    producer.send('gadget.create.end', dict(id=ID, size=1))
    producer.close()
    assert len(legacy.take(1)) == 1
    broker.wait_for('the dead letter', lambda: broker.queue_depth(
        vhost, 'notifications_dead_letter') == 1)
    write_mappings(mappings, GADGET)
    replay = translator_command(process, 'dead-letters', 'replay')
    assert replay.returncode == 0, replay.stdout + replay.stderr
    [versioned] = broker.read_queue(vhost, 'versioned_notifications.info', 1)
    assert versioned_message(versioned)['event_type'] == 'gadget.create.end'
    assert legacy.rest() == []


def test_replay_after_a_mapping_fix(vhost, mappings, relay, tmp_path):
    sent = broker.Collector(vhost, 'demo', 'notifications.*')
    process = relay(**options(vhost, mappings, 'versioned'))
    producer = broker.Producer(broker.url(vhost), 'demo')
    for i in range(3):
        producer.send('gadget.create.end', dict(id=ID, size=i))
    # unmapped now, invalid once gadgets have a mapping
    producer.send('gadget.create.end', dict(id=ID, size='large'))
    producer.close()
    originals = [as_bytes(m.body) for m in sent.take(4)]
    broker.wait_for('dead letters', lambda: broker.queue_depth(
        vhost, 'notifications_dead_letter') == 4)

    listed = translator_command(process, 'dead-letters', 'list')
    assert listed.returncode == 0, listed.stderr
    assert re.search(r'notifications_dead_letter on rabbit://guest:\*\*\*@'
                     r'\S+: 4 dead letters', listed.stdout)
    assert re.search(r"\b4  unmapped   no rule matches event type "
                     r"'gadget.create.end'", listed.stdout), listed.stdout
    assert 'event type  gadget.create.end' in listed.stdout

    write_mappings(mappings, GADGET)  # the fix
    dry = translator_command(process, 'dead-letters', 'replay', '--dry-run')
    assert dry.returncode == 0, dry.stderr
    assert ('dry run over 4 of 4 dead letters in notifications_dead_letter:'
            ' 3 would be translated, 1 would stay dead letters'
            in dry.stdout), dry.stdout
    assert "field size: not an integer: 'large'" in dry.stdout
    assert broker.queue_depth(vhost, 'notifications_dead_letter') == 4

    first = translator_command(process, 'dead-letters', 'replay',
                               '--limit', '2')
    assert first.returncode == 0, first.stdout + first.stderr
    assert ('replayed 2 of 2 dead letters from notifications_dead_letter: '
            '2 translated, 0 back in the dead-letter queue, 2 acknowledged'
            in first.stdout), first.stdout
    rest = translator_command(process, 'dead-letters', 'replay')
    assert rest.returncode == 1, rest.stdout + rest.stderr
    assert ('replayed 2 of 2 dead letters from notifications_dead_letter: '
            '1 translated, 1 back in the dead-letter queue, 2 acknowledged'
            in rest.stdout), rest.stdout

    # What was replayed is what a first-time translation gives, message
    # ids included, so consumers can drop duplicates.
    replayed = [versioned_message(m) for m in broker.read_queue(
        vhost, 'versioned_notifications.info', 3)]
    direct = translation.Translator.from_directory(mappings)
    expected = [direct.body_to_versioned(body).notifications[0]
                for body in originals[:3]]
    assert [{k: m[k] for k in expected[0]} for m in replayed] == expected
    assert all(m['_context_auth_token'] == '***' for m in replayed)
    # What still fails is back, with the reason of the fixed mapping set.
    [back] = broker.read_queue(vhost, 'notifications_dead_letter', 1)
    assert headers(back)[H + 'outcome'] == 'invalid'
    assert "field size: not an integer: 'large'" in headers(back)[
        H + 'reason']
    assert headers(back)[H + 'source-routing-key'] == 'notifications.info'
    assert as_bytes(back.body) == originals[3].replace(
        b'"secret-token-value', b'"***')
    assert broker.queue_depth(vhost, 'translator') == 0
