"""translator.relay.problem_log: per-message problems at a readable
rate."""

from translator.relay import problem_log


def test_problem_log_says_each_kind_once_per_interval_with_a_count():
    lines = []

    class Logger:
        def log(self, level, text, *args):
            lines.append((level, text % args))

    now = [0.0]
    problems = problem_log.ProblemLog(Logger(), 10, clock=lambda: now[0])
    for i in range(5):
        problems.report(20, 'dead letter (unmapped)', 'event %d' % i)
    problems.report(30, 'refused', 'nack')
    problems.tick()  # the interval is not over: nothing yet
    assert lines == [(20, 'dead letter (unmapped): event 0'),
                     (30, 'refused: nack')]
    now[0] = 10.0
    problems.tick()
    assert lines[2:] == [
        (20, 'dead letter (unmapped): 4 more in the last 10 s, the latest: '
             'event 4')]
    problems.report(20, 'dead letter (unmapped)', 'event 5')
    assert lines[3:] == [(20, 'dead letter (unmapped): event 5')]
