"""Certificates of the tests' own, made with openssl, and RabbitMQ nodes
that require TLS with them."""

import os
import pathlib
import shutil
import subprocess
import tempfile
import types

from tests import broker

#: What the broker certificates name: the address the tests connect to,
#: not 'localhost', so that connecting by that name is a hostname mismatch.
SERVER_NAME = broker.HOST


def _openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def _key_and_request(name, subject, cwd):
    _openssl('req', '-new', '-newkey', 'ec', '-pkeyopt',
             'ec_paramgen_curve:prime256v1', '-nodes', '-keyout',
             name + '.key', '-out', name + '.csr', '-subj', subject, cwd=cwd)


def _authority(name, cwd):
    _openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
             'ec_paramgen_curve:prime256v1', '-nodes', '-keyout',
             name + '.key', '-out', name + '.pem', '-days', '2', '-subj',
             '/CN=translator test %s' % name, cwd=cwd)


def _sign(name, ca, days, extensions, cwd):
    (pathlib.Path(cwd) / (name + '.ext')).write_text(extensions + '\n')
    # days -1: valid until yesterday, which is an expired certificate
    _openssl('x509', '-req', '-in', name + '.csr', '-CA', ca + '.pem',
             '-CAkey', ca + '.key', '-CAcreateserial', '-days', str(days),
             '-extfile', name + '.ext', '-out', name + '.pem', cwd=cwd)


def make_certificates(directory):
    """Paths of: ca, other_ca (signed nothing here), server and its key,
    expired (a server certificate past its date) and its key, client and
    its key, all PEM."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _authority('ca', directory)
    _authority('other_ca', directory)
    server_ext = 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth' \
        % SERVER_NAME
    for name, days in (('server', 2), ('expired', -1)):
        _key_and_request(name, '/CN=%s' % SERVER_NAME, directory)
        _sign(name, 'ca', days, server_ext, directory)
    _key_and_request('client', '/CN=translator', directory)
    _sign('client', 'ca', 2, 'extendedKeyUsage=clientAuth', directory)
    paths = {name: str(directory / (name + '.pem')) for name in (
        'ca', 'other_ca', 'server', 'expired', 'client')}
    paths.update({name + '_key': str(directory / (name + '.key'))
                  for name in ('server', 'expired', 'client')})
    for path in directory.iterdir():
        shutil.chown(path, 'rabbitmq', 'rabbitmq')
    return types.SimpleNamespace(**paths)


def listener(port, certs, certfile, keyfile):
    """rabbitmq.conf lines of a listener that takes TLS 1.2 only, with a
    client certificate signed by the test CA."""
    return '\n'.join([
        'listeners.ssl.default = %s:%d' % (broker.HOST, port),
        'ssl_options.cacertfile = %s' % certs.ca,
        'ssl_options.certfile = %s' % certfile,
        'ssl_options.keyfile = %s' % keyfile,
        'ssl_options.verify = verify_peer',
        'ssl_options.fail_if_no_peer_cert = true',
        'ssl_options.versions.1 = tlsv1.2', ''])


def tls_url(node, vhost='', host=broker.HOST):
    return 'rabbit://guest:guest@%s:%d/%s' % (host, node.tls_port, vhost)


class TLSBroker(broker.PrivateBroker):
    """A node that takes TLS 1.2 only, with a client certificate, on
    ``tls_port``; ``port`` stays plaintext, for producers and collectors."""

    def __init__(self, base, certs, certfile, keyfile, plugins=()):
        self.tls_port = broker.free_port()
        super().__init__(base, plugins=plugins, config=listener(
            self.tls_port, certs, certfile, keyfile))

    tls_url = tls_url


class TLSNodes:
    """A node with a valid certificate and one whose has expired, started
    together, with the certificates they use."""

    def __init__(self):
        # Not below pytest's tmp_path: the rabbitmq user cannot enter it.
        self.base = tempfile.mkdtemp(prefix='translator-tls-')
        os.chmod(self.base, 0o755)
        self.certs = make_certificates(os.path.join(self.base, 'certs'))
        # the relay benchmark runs its Shovel baseline there
        self.valid = TLSBroker(os.path.join(self.base, 'valid'), self.certs,
                               self.certs.server, self.certs.server_key,
                               plugins=['rabbitmq_shovel'])
        self.expired = TLSBroker(os.path.join(self.base, 'expired'),
                                 self.certs, self.certs.expired,
                                 self.certs.expired_key)

    def start(self):
        for node in (self.valid, self.expired):
            node.launch()
        for node in (self.valid, self.expired):
            node.wait()
        return self

    def stop(self):
        for node in (self.valid, self.expired):
            node.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def options(self, **overrides):
        """Relay options for a TLS connection with the valid client
        certificate, as an operator copies them from nova.conf."""
        values = dict(ssl='true', ssl_ca_file=self.certs.ca,
                      ssl_cert_file=self.certs.client,
                      ssl_key_file=self.certs.client_key)
        values.update(overrides)
        return values
