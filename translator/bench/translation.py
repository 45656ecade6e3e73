"""Per-message translation time: compiled path beside the objects."""

import platform
import statistics
import time

from translator import envelope
from translator.bench import load_corpus
from translator.mapping import compiler


def _per_call_us(func, arg, rounds, number):
    """Median over rounds of the mean time of one call, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func(arg)
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def run(translator, corpus_dir, rounds=5, number=2000):
    corpus = load_corpus(corpus_dir)
    if not corpus:
        raise SystemExit('no golden samples under %s' % corpus_dir)

    def naive(legacy):
        return translator.translate(
            legacy, build=compiler.PayloadPlan.build_primitive)

    def wire(raw):
        outcome = translator.translate_raw(raw)
        return [envelope.wire_body(n) for n in outcome.notifications]

    rows = []
    for name, raw in corpus:
        legacy = envelope.parse(raw)
        rows.append((name,
                     _per_call_us(translator.translate, legacy, rounds,
                                  number),
                     _per_call_us(naive, legacy, rounds, number // 10),
                     _per_call_us(wire, raw, rounds, number)))
    print('translation per message, microseconds (median of %d rounds), '
          'one core, Python %s on %s' % (rounds, platform.python_version(),
                                         platform.machine()))
    print('%-44s %10s %10s %12s' % ('sample', 'compiled', 'objects',
                                    'wire in+out'))
    for name, hot, obj, full in rows:
        print('%-44s %10.1f %10.1f %12.1f' % (name[:44], hot, obj, full))
    hot, obj, full = (statistics.median(r[i] for r in rows)
                      for i in (1, 2, 3))
    print('%-44s %10.1f %10.1f %12.1f' % ('MEDIAN over %d samples'
                                          % len(rows), hot, obj, full))
    print('compiled path is %.1fx faster than building the objects'
          % (obj / hot))
    return hot, obj, full
