"""A RabbitMQ cluster of the tests' own on this machine: three nodes with
their own names, ports and data, which failover tests stop and kill; of
the local RabbitMQ 3.10 (tests.broker.PrivateBroker) or of RabbitMQ 4
(tests.rabbit4.Rabbit4Broker), whose nodes have the same face."""

import os
import shutil
import signal
import tempfile
import time

from tests import broker


class Cluster:
    def __init__(self, size=3, make_node=broker.PrivateBroker):
        """``make_node(directory)``: one node of the cluster."""
        # Not below pytest's tmp_path: the rabbitmq user cannot enter it.
        self.base = tempfile.mkdtemp(prefix='translator-cluster-')
        os.chmod(self.base, 0o755)
        self.nodes = [make_node(os.path.join(self.base, 'n%d' % i))
                      for i in range(size)]

    def start(self):
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait()
        first = self.nodes[0].node
        for node in self.nodes[1:]:
            node.ctl('stop_app')
            node.ctl('join_cluster', first)
            node.start_app()
        return self

    def stop(self):
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, vhost=''):
        """A transport URL naming every node, as operators write one."""
        return 'rabbit://%s/%s' % (','.join(
            'guest:guest@%s:%d' % (broker.HOST, node.port)
            for node in self.nodes), vhost)

    def node_on(self, port):
        return next(node for node in self.nodes if node.port == port)

    def other_than(self, node):
        return next(other for other in self.nodes if other is not node)


def kill(node):
    """kill -9 the node's Erlang VM: no goodbye to clients or peers.
    Returns the time of the kill."""
    pid = node.pid()
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while os.path.exists('/proc/%d' % pid) and not _zombie(pid):
        assert time.monotonic() < deadline, 'node %s still there' % node.node
        time.sleep(0.05)
    return killed_at


def _zombie(pid):
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat.read().rpartition(')')[2].split()[0] == 'Z'
    except OSError:
        return False


def restart(node):
    """The node back on its data, after a stop or a kill."""
    node.boot()
    node.wait()
