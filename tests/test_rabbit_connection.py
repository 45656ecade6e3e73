"""translator.transports.rabbit.connection: the order hosts are tried
in."""

from translator.transports.rabbit import connection


def test_replicas_start_on_any_host_and_round_robin_moves_on():
    hosts = ['a', 'b', 'c']
    firsts = set()
    for _ in range(100):
        order = connection._HostOrder(hosts, 'round-robin')
        first = next(iter(order))
        firsts.add(first)
        # the next connection tries the others first, this one last
        again = list(order)
        assert sorted(again) == hosts and again[-1] == first
    # 100 replicas given the same URL: a chance of 3 * (2/3)**100 to miss
    assert firsts == set(hosts)


def test_shuffle_starts_each_connection_on_any_host():
    order = connection._HostOrder(['a', 'b', 'c'], 'shuffle')
    assert {next(iter(order)) for _ in range(100)} == {'a', 'b', 'c'}
    assert sorted(order) == ['a', 'b', 'c']
