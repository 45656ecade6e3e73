"""Every configuration mistake ends the command with one line on stderr
that names the option or file, where it is set and what is wrong; exit
status 2, no traceback."""

import pathlib
import subprocess
import sys

import pytest

from tests import tls
from tests.conftest import ROOT


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    return tls.make_certificates(tmp_path_factory.mktemp('certs'))


def mistakes(tmp, certs):
    """case -> (command line, config file text or None, the stderr line
    with {conf} for the config file's path)."""
    text = tmp / 'notes.txt'
    text.write_text('not a certificate\n')
    (tmp / 'latin1.conf').write_bytes(b'[source]\npool = caf\xe9\n')
    (tmp / 'directory.conf').mkdir()
    tls_on = '[source]\nssl = true\n'
    return {
        'bad value': (
            ['relay'], '[notifications]\nnotification_format = versionedd\n',
            "[notifications] notification_format in {conf}: Valid values "
            "are [unversioned, versioned, both], but found 'versionedd'"),
        'value the command does not use': (
            ['validate-mappings', str(ROOT / 'mappings')],
            '[relay]\nprefetch = 0\n',
            '[relay] prefetch in {conf}: Should be greater than or equal '
            'to 1'),
        'missing file': (
            ['relay', '--config-file', str(tmp / 'nowhere.conf')], None,
            '--config-file %s: not found' % (tmp / 'nowhere.conf')),
        'a directory': (
            ['relay', '--config-file', str(tmp / 'directory.conf')], None,
            '--config-file %s: cannot read: Is a directory'
            % (tmp / 'directory.conf')),
        'not UTF-8': (
            ['relay', '--config-file', str(tmp / 'latin1.conf')], None,
            '--config-file %s: cannot read: not UTF-8 text'
            % (tmp / 'latin1.conf')),
        'missing directory': (
            ['relay', '--config-dir', str(tmp / 'nodir')], None,
            '--config-dir %s: not found' % (tmp / 'nodir')),
        'syntax': (
            ['relay'], '[relay]\nprefetch\n',
            "--config-file {conf}: at {conf}:2, No ':' or '=' found in "
            "assignment: 'prefetch'"),
        'bad URL': (
            ['relay'], '[target]\ntransport_url = kafka://u:hunter2@k:9092/\n',
            "[target] transport_url in {conf}: transport 'kafka' of "
            "kafka://u:***@k:9092/ is not supported: the transports "
            "installed are amqp://, rabbit://"),
        'missing CA file': (
            ['relay'], tls_on + 'ssl_ca_file = %s\n' % (tmp / 'ca.pem'),
            '[source] ssl_ca_file in {conf}: %s: cannot read: No such file '
            'or directory' % (tmp / 'ca.pem')),
        'CA file not a certificate': (
            ['relay'], tls_on + 'ssl_ca_file = %s\n' % text,
            '[source] ssl_ca_file in {conf}: %s: not usable: '
            'NO_CERTIFICATE_OR_CRL_FOUND' % text),
        'missing key file': (
            ['relay'], tls_on + 'ssl_cert_file = %s\nssl_key_file = %s\n'
            % (certs.client, tmp / 'client.key'),
            '[source] ssl_key_file in {conf}: %s: cannot read: No such file '
            'or directory' % (tmp / 'client.key')),
        'key of another certificate': (
            ['relay'], tls_on + 'ssl_cert_file = %s\nssl_key_file = %s\n'
            % (certs.client, certs.server_key),
            '[source] ssl_cert_file in {conf}: %s: not usable: '
            'KEY_VALUES_MISMATCH' % certs.client),
        'key without certificate': (
            ['relay'], '[target]\ntransport_url = rabbit://h/\nssl = true\n'
            'ssl_key_file = %s\n' % certs.client_key,
            '[target] ssl_key_file in {conf}: set without ssl_cert_file'),
        'TLS version': (
            ['relay'], tls_on + 'ssl_version = TLSv9\n',
            "[source] ssl_version in {conf}: Valid values are [, TLSv1, "
            "TLSv1_1, TLSv1_2, TLSv1_3, SSLv23], but found 'TLSv9'"),
        'benchmark too': (
            ['bench', 'relay'], tls_on + 'ssl_ca_file = %s\n' % text,
            '[source] ssl_ca_file in {conf}: %s: not usable: '
            'NO_CERTIFICATE_OR_CRL_FOUND' % text),
    }


def test_each_mistake_is_one_line(tmp_path, certs):
    cases = mistakes(tmp_path, certs)
    running = {}
    # side by side: each is an interpreter start-up
    for number, (case, (args, text, _)) in enumerate(cases.items()):
        conf = tmp_path / ('%d.conf' % number)
        if text is not None:
            conf.write_text(text)
            args = args + ['--config-file', str(conf)]
        running[case] = conf, subprocess.Popen(
            [sys.executable, '-m', 'translator.cli', *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for case, (conf, process) in running.items():
        try:
            out, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError('%s: still running' % case) from None
        expected = 'translator: ' + cases[case][2].format(conf=conf)
        assert (process.returncode, err.splitlines(), out) == (
            2, [expected], ''), case


def test_misspelt_options_are_reported_by_oslo_config_validator(tmp_path):
    """oslo.config ignores an option it does not know; the command README
    names for checking a file does not."""
    conf = tmp_path / 'translator.conf'
    conf.write_text('[notifications]\nnotification_fromat = versioned\n'
                    '[source]\nssl = true\n')
    result = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / 'oslo-config-validator'),
         '--config-file', 'deploy/translator-config-generator.conf',
         '--input-file', str(conf)], cwd=ROOT, capture_output=True,
        text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'ERROR:oslo_config.validator:notifications/notification_fromat is '
        'not part of the sample config']
