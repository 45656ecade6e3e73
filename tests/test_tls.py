"""The relay over TLS, against RabbitMQ nodes that require it, with the
certificates of tests/tls.py."""

import ssl
import time

import amqp
import pytest

from tests import broker
from tests.test_relay import options, thing
from tests.test_relay import versioned_message


def tls_connections(node, vhost):
    """(TLS version, client certificate subject) of each connection made
    to the node's TLS port in the vhost."""
    rows = broker.ctl('list_connections', 'port', 'vhost', 'ssl_protocol',
                   'peer_cert_subject', node=node.node).stdout.splitlines()
    return sorted(tuple(row.split('\t')[2:]) for row in rows
                  if row.split('\t')[:2] == [str(node.tls_port), vhost])


def names(messages):
    return sorted(versioned_message(m)['payload']['demo_object.data']['name']
                  for m in messages)


def test_relay_end_to_end_over_tls(tls_nodes, mappings, relay):  # noqa: F811
    node = tls_nodes.valid
    with broker.vhost(node=node.node) as vhost:
        # the services and their consumers use the plaintext port
        out = broker.Collector(vhost, 'demo', 'versioned_notifications.*',
                            port=node.port)
        opts = options(vhost, mappings, 'versioned')
        opts['source'].update(transport_url=node.tls_url(vhost),
                              **tls_nodes.options())
        relay(**opts)
        producer = broker.Producer(broker.url(vhost, port=node.port), 'demo')
        for i in range(50):
            producer.send('thing.create.end', thing('t%d' % i))
        assert names(out.take(50)) == sorted('t%d' % i for i in range(50))
        # source and target, both with the client certificate
        assert tls_connections(node, vhost) == [
            ('tlsv1.2', 'CN=translator')] * 2
        producer.close()


def test_plaintext_source_to_tls_target(tls_nodes, mappings,
                                        relay):  # noqa: F811
    node = tls_nodes.valid
    with broker.vhost() as source, broker.vhost(node=node.node) as target:
        out = broker.Collector(target, 'demo', '#', port=node.port)
        opts = options(source, mappings, 'versioned')
        opts['target'] = dict(transport_url=node.tls_url(target),
                              **tls_nodes.options())
        relay(**opts)
        producer = broker.Producer(broker.url(source), 'demo')
        for i in range(20):
            producer.send('thing.create.end', thing('t%d' % i))
        assert names(out.take(20)) == sorted('t%d' % i for i in range(20))
        assert tls_connections(node, target) == [
            ('tlsv1.2', 'CN=translator')]
        producer.close()


def refusals(nodes):
    """case -> (URL, TLS options, what the error must say)."""
    valid, certs = nodes.valid, nodes.certs
    return {
        'wrong CA': (valid.tls_url(), dict(ssl_ca_file=certs.other_ca),
                     'TLS: broker certificate refused: self-signed '
                     'certificate in certificate chain (not signed by %s)'
                     % certs.other_ca),
        'expired': (nodes.expired.tls_url(), {},
                    'TLS: broker certificate refused: certificate has '
                    'expired'),
        'hostname': (valid.tls_url(host='localhost'), {},
                     "TLS: broker certificate refused: Hostname mismatch, "
                     "certificate is not valid for 'localhost'"),
        'plaintext port': (
            broker.url('', port=valid.port), {},
            'TLS handshake failed (WRONG_VERSION_NUMBER): not a TLS port?'),
        'no client certificate': (
            valid.tls_url(), dict(ssl_cert_file='', ssl_key_file=''),
            'TLS handshake failed: SSLV3_ALERT_HANDSHAKE_FAILURE'),
        'version below the minimum': (
            valid.tls_url(), dict(ssl_version='TLSv1_3'),
            'TLS handshake failed: TLSV1_ALERT_PROTOCOL_VERSION'),
    }


def test_each_tls_mistake_is_refused_named_and_retried(tls_nodes, mappings,
                                                       tmp_path):  # noqa
    cases = refusals(tls_nodes)
    processes = {}
    # side by side: each waits for its retries
    for number, (case, (url, overrides, _)) in enumerate(cases.items()):
        processes[case] = broker.RelayProcess(
            tmp_path / str(number), relay={'mappings_dir': mappings,
                                           'reconnect_delay_max': 1},
            source=dict(transport_url=url.replace('guest:guest',
                                                  'guest:s3cret'),
                        exchanges='demo', **tls_nodes.options(**overrides)))
        processes[case].start(ready=False)
    for case, process in processes.items():
        url, _, cause = cases[case]
        # retried: a second attempt after a backoff (the first is 0.5 s)
        deadline = time.monotonic() + 120
        while process.log.read_text().count('bus failure') < 2:
            assert time.monotonic() < deadline, (case,
                                                 process.log.read_text())
            time.sleep(0.2)
        # never connected, not even in plaintext
        assert process.get('/readyz')[0] == 503, case
        assert process.stop() == 0, case
        log = process.log.read_text()
        address = url.split('@')[1].split('/')[0]
        assert 'cannot connect to %s: %s: %s' % (
            url.replace('guest:guest', 'guest:***'), address, cause) \
            in log, (case, log)
        assert 's3cret' not in log, case
    for node in (tls_nodes.valid, tls_nodes.expired):
        assert tls_connections(node, '/') == []


def test_hostname_verification_can_be_turned_off_as_in_oslo(tls_nodes,
                                                            tmp_path):
    from translator.settings import BusOptions, Endpoint
    from translator.transports.rabbit import connection
    url = tls_nodes.valid.tls_url(host='localhost')
    options = dict(tls_nodes.options(), ssl=True)
    with pytest.raises(ConnectionError, match='Hostname mismatch'):
        connection.connect(Endpoint(url, BusOptions(**options)), 0, 'test')
    conn = connection.connect(Endpoint(url, BusOptions(
        ssl_enforce_hostname_verification=False, **options)), 0, 'test')
    # the chain is still checked: only the name is not
    assert conn.transport.sock.getpeercert()['subject'] == (
        (('commonName', broker.HOST),),)
    conn.close()


def test_pyamqp_ignores_an_ssl_context(tls_nodes):
    """Why the relay gives py-amqp a dict: a context that trusts the test
    CA is dropped, and the system CAs, which do not, are used instead."""
    context = ssl.create_default_context(cafile=tls_nodes.certs.ca)
    context.load_cert_chain(tls_nodes.certs.client,
                            tls_nodes.certs.client_key)
    conn = amqp.Connection(host='%s:%d' % (broker.HOST,
                                           tls_nodes.valid.tls_port),
                           ssl=context, connect_timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError,
                       match='self-signed certificate in certificate chain'):
        conn.connect()
