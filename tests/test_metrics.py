"""The metrics say what happened, by value: after a known mix of traffic
and a backlog of a known size, each scraped counter and gauge holds the
number it must. And every series the alert rules, their unit tests and
the dashboard name is one the relay exports, labels and values included.
"""

import re

import pytest
import yaml

from tests import broker
from tests import contracts
from tests.conftest import DEMO_MAPPINGS, write_mappings
from tests.test_delivery import warm_up
from tests.test_deploy import ALERTS, DASHBOARD, PROMETHEUS_DIR
from tests.test_relay import options, thing

TRANSLATED, INVALID, UNMAPPED, MALFORMED = 12, 3, 2, 4
PREFETCH, BACKLOG = 10, 25
SAMPLE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(process):
    """[(name, {label: value}, value)] of /metrics."""
    _, text = process.get('/metrics')
    samples = []
    for line in text.splitlines():
        if line.startswith('#') or not line:
            continue
        name, labels, value = SAMPLE.match(line).groups()
        samples.append((name, dict(LABEL.findall(labels or '')),
                        float(value)))
    return samples


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The samples of a relay that carried the known mix, then a backlog:
    checked by value in the first test, by name in the others."""
    tmp = tmp_path_factory.mktemp('metrics')
    proxy = broker.TcpProxy()
    mappings = write_mappings(tmp / 'mappings', DEMO_MAPPINGS)
    with broker.vhost() as vhost, contracts.translating_with(mappings):
        # versioned: through the proxy the relay cannot tell the target
        # from the source, and legacy copies would come back to it; so
        # would its versioned outputs, were services' versioned
        # notifications read (counted apart: tests/test_switchboard.py)
        opts = options(vhost, mappings, 'versioned', prefetch=PREFETCH,
                       confirm_timeout=300)
        opts['source']['versioned_topics'] = ''
        opts['target'] = {'transport_url': proxy.url(vhost)}
        process = broker.RelayProcess(tmp / 'relay', **opts).start()
        out = broker.Collector(vhost, 'demo', 'versioned_notifications.*')
        producer = broker.Producer(broker.url(vhost), 'demo')
        try:
            warm_up(producer, out)
            for i in range(TRANSLATED - 1):
                producer.send('thing.create.end', thing('n%d' % i))
            for state in ('same', 'same'):  # the second is suppressed
                producer.send('thing.update', thing('u', state=state))
            for _ in range(INVALID):
                producer.send('thing.create.end', dict(id='x', name='x'))
            for _ in range(UNMAPPED):
                producer.send('other.event', {'x': 1})
            broker.publish_raw(vhost, 'demo', 'notifications.info',
                            *[b'not json'] * MALFORMED)
            mix = TRANSLATED + 2 + INVALID + UNMAPPED + MALFORMED
            broker.wait_for('the mix acknowledged', lambda: process.metric(
                'translator_messages_acknowledged_total') == mix,
                log=process.log)
            by_value = scrape(process)
            # A target that stops confirming: the relay holds its prefetch
            # in flight and the rest waits in the pool queue.
            proxy.stall()
            for i in range(PREFETCH + BACKLOG):
                producer.send('thing.create.end', thing('b%d' % i))
            broker.wait_for('the backlog polled', lambda: process.metric(
                'translator_source_queue_depth') == BACKLOG, timeout=30,
                log=process.log)
            backlog = scrape(process)
        finally:
            producer.close()
            process.stop()
            proxy.close()
    return by_value, backlog


def value(samples, metric, **labels):
    found = [v for n, l, v in samples if n == metric and l == labels]
    assert len(found) == 1, (metric, labels, found)
    return found[0]


def test_counters_and_gauges_say_what_happened(exported):
    mix, backlog = exported
    total = TRANSLATED + 2 + INVALID + UNMAPPED + MALFORMED
    assert value(mix, 'translator_messages_received_total', exchange='demo',
                 format='legacy', event_type='thing.create.end') == TRANSLATED
    assert value(mix, 'translator_messages_received_total', exchange='demo',
                 format='legacy', event_type='thing.update') == 2
    # Untranslated event types the set does not name exactly (the invalid
    # ones match a glob), and bodies without one: a bounded label.
    assert value(mix, 'translator_messages_received_total', exchange='demo',
                 format='legacy',
                 event_type='unknown') == INVALID + UNMAPPED + MALFORMED
    published = {(kind, origin): value(
        mix, 'translator_messages_published_total', kind=kind,
        origin=origin) for kind in ('versioned', 'legacy', 'dead_letter')
        for origin in ('legacy', 'versioned')}
    assert published == {
        ('versioned', 'legacy'): TRANSLATED + 1, ('legacy', 'legacy'): 0,
        ('dead_letter', 'legacy'): INVALID + UNMAPPED + MALFORMED,
        ('versioned', 'versioned'): 0, ('legacy', 'versioned'): 0,
        ('dead_letter', 'versioned'): 0}
    assert {reason: value(mix, 'translator_dead_letters_total',
                          reason=reason)
            for reason in ('invalid', 'unmapped', 'malformed')} == {
        'invalid': INVALID, 'unmapped': UNMAPPED, 'malformed': MALFORMED}
    assert value(mix, 'translator_unchanged_updates_suppressed_total') == 1
    assert value(mix, 'translator_messages_acknowledged_total') == total
    assert value(mix, 'translator_messages_redelivered_total') == 0
    assert value(mix, 'translator_translation_seconds_count',
                 format='legacy') == total
    assert value(mix, 'translator_translation_seconds_count',
                 format='versioned') == 0
    for fmt in ('legacy', 'versioned'):
        assert value(mix, 'translator_duplicates_total', format=fmt) == 0
    assert value(mix, 'translator_own_outputs_total') == 0
    assert value(mix, 'translator_held_messages') == 0
    assert value(mix, 'translator_twin_waits_expired_total') == 0
    # only bodies with a timestamp have a delay
    assert value(mix, 'translator_end_to_end_delay_seconds_count') == \
        total - MALFORMED
    assert value(mix, 'translator_in_flight_messages') == 0
    for cause in ('nack', 'timeout', 'connection'):
        assert value(mix, 'translator_publish_failures_total',
                     cause=cause) == 0
    for kind in ('versioned', 'legacy', 'dead_letter'):
        assert value(mix, 'translator_unroutable_total', kind=kind) == 0
    for side in ('source', 'target'):
        assert value(mix, 'translator_broker_connected', side=side) == 1
    assert {fmt: value(mix, 'translator_notification_format', format=fmt)
            for fmt in ('unversioned', 'versioned', 'both')} == {
        'unversioned': 0, 'versioned': 1, 'both': 0}
    assert value(mix, 'translator_payload_class_info', namespace='demo',
                 name='ThingPayload', version='1.0') == 1

    assert value(backlog, 'translator_source_queue_depth') == BACKLOG
    assert value(backlog, 'translator_in_flight_messages') == PREFETCH
    assert value(backlog, 'translator_messages_acknowledged_total') == total


def exported_labels(samples):
    """metric name -> {label name: set of values} over the samples."""
    out = {}
    for name, labels, _ in samples:
        known = out.setdefault(name, {})
        for key, val in labels.items():
            known.setdefault(key, set()).add(val)
    return out


#: Labels Prometheus adds when it scrapes, and the histograms' bucket bound.
SCRAPE_LABELS = {'job', 'instance', 'le'}


def check_selector(names, name, matchers, where):
    """The series and label matchers of one selector are exported."""
    if name == 'up':
        return  # Prometheus's own
    assert name in names, '%s: %s is not exported' % (where, name)
    for key, op, val in matchers:
        if key in SCRAPE_LABELS:
            continue
        assert key in names[name], '%s: %s has no label %s' % (
            where, name, key)
        if op == '=':
            assert val in names[name][key], '%s: %s{%s} is never %r' % (
                where, name, key, val)
        elif op == '=~':  # each alternative is a value
            for alternative in val.split('|'):
                assert alternative in names[name][key], (
                    '%s: %s{%s} is never %r' % (where, name, key,
                                                 alternative))


def test_the_alert_unit_tests_use_the_exported_series(exported):
    names = exported_labels(exported[0])
    cases = yaml.safe_load((PROMETHEUS_DIR /
                            'translator-alerts.test.yml').read_text())
    series = [s['series'] for case in cases['tests']
              for s in case['input_series']]
    assert len(series) > 20
    for text in series:
        name, labels = re.match(r'(\w+)\{(.*)\}$', text).groups()
        check_selector(names, name, [(k, '=', v) for k, v in
                                     LABEL.findall(labels)], text)


SELECTOR = re.compile(r'\b(translator_\w+)(?:\{([^}]*)\})?')
MATCHER = re.compile(r'(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"')


@pytest.mark.parametrize('source', ['alert rules', 'dashboard'])
def test_rules_and_dashboard_query_the_exported_series(exported, source):
    names = exported_labels(exported[0])
    if source == 'alert rules':
        groups = yaml.safe_load(ALERTS.read_text())['groups']
        exprs = [r['expr'] for g in groups for r in g['rules']]
    else:
        exprs = re.findall(r'"expr": "((?:[^"\\]|\\.)*)"',
                           DASHBOARD.read_text())
        exprs = [e.replace('\\"', '"') for e in exprs]
    assert len(exprs) > 5
    for expr in exprs:
        selectors = SELECTOR.findall(expr)
        # each queries the relay's series, but for Prometheus's own up
        assert selectors or expr.startswith('up{'), expr
        for name, matchers in selectors:
            check_selector(names, name, [
                m for m in MATCHER.findall(matchers) if '$' not in m[2]],
                expr)
