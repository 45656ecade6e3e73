"""The relay benchmark runs end to end and reports every figure.

Whether the figures meet their targets depends on the machine: the
benchmark prints that, the tests do not assert it.
"""

import re
import subprocess
import sys

from tests import broker


def test_bench_relay_reports_every_figure(tmp_path, tls_nodes):
    """Over TLS: every connection of the benchmark and of the relays it
    runs takes the [source] TLS options (the node has no other way in)."""
    node = tls_nodes.valid
    with broker.vhost(node=node.node) as vhost:
        config = tmp_path / 'bench.conf'
        config.write_text('[source]\ntransport_url = %s\n%s' % (
            node.tls_url(vhost), ''.join(
                '%s = %s\n' % item for item in tls_nodes.options().items())))
        result = subprocess.run(
            [sys.executable, '-m', 'translator.cli', 'bench', 'relay',
             '--messages', '2000', '--pairs', '2',
             '--broker-node', node.node,
             '--config-file', str(config)],
            capture_output=True, text=True, timeout=300)
        leftovers = broker.ctl('list_queues', '-p', vhost, 'name',
                            node=node.node).stdout
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert 'guest:***@' in out and 'guest:guest' not in out
    for row in ('(p) bare py-amqp', '(a) bare kombu', '(b) oslo.messaging',
                '(c) translator', '(c) with two relays', '(d) relay, legacy',
                '(e) relay, versioned'):
        line = next(line for line in out.splitlines() if line.startswith(row))
        rate, relay_cpu, broker_cpu = re.search(
            r'\s(\d+)\s+relay (\d+), broker (\d+)$', line).groups()
        assert int(rate) > 0 and int(relay_cpu) > 0, line
    # the Shovel relays inside the broker: its CPU is the broker's
    shovel = next(line for line in out.splitlines()
                  if line.startswith('(s) RabbitMQ Shovel'))
    rate, broker_cpu = re.search(r'\s(\d+)\s+broker (\d+)$',
                                 shovel).groups()
    assert int(rate) > 0 and int(broker_cpu) > 0, shovel
    # the Shovel and the relay ran twice each, c/s is their median ratio
    ratio, first, second = map(float, re.search(
        r'^c/s = (\d+\.\d\d) \(median of 2 pairs: (\d+\.\d\d), '
        r'(\d+\.\d\d)\) ', out, re.M).groups())
    assert first <= second and abs(ratio - (first + second) / 2) <= 0.006
    # the two directions, alternated too, on the same Nova events
    ratio, first, second = map(float, re.search(
        r'^e/d = (\d+\.\d\d) \(median of 2 pairs: (\d+\.\d\d), '
        r'(\d+\.\d\d)\)$', out, re.M).groups())
    assert first <= second and abs(ratio - (first + second) / 2) <= 0.006
    assert re.search(r'\(d\) and \(e\) on the (\d+) Nova instance events',
                     out)

    delay = re.search(r'(\d+) of (\d+) received: p50 ([\d.]+) ms, '
                      r'p99 ([\d.]+) ms', out)
    assert delay, out
    received, offered, p50, p99 = delay.groups()
    assert received == offered and int(offered) > 0
    assert 0 < float(p50) <= float(p99)
    assert re.search(r'targets: c >= 0.8 s (met|MISSED), c >= 0.85 p '
                     r'(met|MISSED), e >= d (met|MISSED), c >= 0.8 a '
                     r'(met|MISSED), c >= 4 b (met|MISSED), p99 <= 50 ms '
                     r'(met|MISSED)', out)
    # every queue the run declared is gone with it
    assert 'bench' not in leftovers
