"""A RabbitMQ cluster of the tests' own on this machine: three nodes with
their own names, ports and data, which failover tests stop and kill."""

import os
import shutil
import signal
import tempfile
import time

from tests import broker


class Cluster:
    def __init__(self, size=3):
        # Not below pytest's tmp_path: the rabbitmq user cannot enter it.
        self.base = tempfile.mkdtemp(prefix='translator-cluster-')
        os.chmod(self.base, 0o755)
        self.nodes = [broker.PrivateBroker(os.path.join(self.base, 'n%d' % i))
                      for i in range(size)]

    def start(self):
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait()
        first = self.nodes[0].node
        for node in self.nodes[1:]:
            broker.ctl('stop_app', node=node.node)
            broker.ctl('join_cluster', first, node=node.node)
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
    pid = int(broker.ctl('eval', 'os:getpid().', node=node.node).stdout
              .strip().strip('"'))
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while os.path.exists('/proc/%d' % pid):
        assert time.monotonic() < deadline, 'node %s still there' % node.node
        time.sleep(0.05)
    return killed_at


def restart(node):
    """The node back on its data, after a stop or a kill."""
    node.boot()
    node.wait()
