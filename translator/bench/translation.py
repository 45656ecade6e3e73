"""Translation time: per message, compiled path beside the objects; and
``translator translate`` over a large file beside a bare JSON loop."""

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import orjson

from translator import envelope
from translator.bench import load_corpus
from translator.bench import request_context
from translator.bench import with_context
from translator.mapping import plans

#: The least a translating command does per line: read it, decode the wire
#: body and its inner message, encode a message, write it.
BARE_LOOP = """
import sys, orjson
out = sys.stdout.buffer
for line in open(sys.argv[1], 'rb'):
    body = orjson.loads(line)
    out.write(orjson.dumps(orjson.loads(body['oslo.message']),
                           option=orjson.OPT_APPEND_NEWLINE))
out.flush()
"""


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
        return translator.to_versioned(
            legacy, build=plans.PayloadPlan.build_primitive)

    def wire(raw):
        outcome = translator.body_to_versioned(raw)
        return [envelope.wire_body(n) for n in outcome.notifications]

    rows = []
    for name, raw in corpus:
        legacy = envelope.parse(raw)
        rows.append((name,
                     _per_call_us(translator.to_versioned, legacy, rounds,
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


def write_lines(corpus, count, path):
    """``count`` wire bodies as services send them (a request context, a
    fresh message id and request id each), cycling over the corpus."""
    context = request_context()
    messages = []
    for _, raw in corpus:
        message = envelope.unwrap(orjson.loads(raw))
        message.setdefault('priority', envelope.DEFAULT_PRIORITY)
        message.pop('metadata', None)
        messages.append(message)
    with open(path, 'wb') as out:
        for i in range(count):
            out.write(envelope.wire_body(dict(
                with_context(messages[i % len(messages)], context),
                message_id=str(uuid.uuid4()))) + b'\n')


def _wall(argv):
    started = time.perf_counter()
    with open(os.devnull, 'wb') as sink:
        subprocess.run(argv, stdout=sink, stderr=subprocess.DEVNULL,
                       check=False)
    return time.perf_counter() - started


def run_file(mappings_dir, corpus_dir, count, rounds=3):
    """Wall time per line of ``translator translate`` (start-up included)
    and of the bare loop, over the same file, alternated ``rounds`` times;
    the medians and their ratio."""
    corpus = load_corpus(corpus_dir)
    with tempfile.TemporaryDirectory(prefix='translator-bench-') as tmp:
        path = os.path.join(tmp, 'legacy.jsonl')
        write_lines(corpus, count, path)
        translate, bare = [], []
        for _ in range(rounds):
            translate.append(_wall([
                sys.executable, '-m', 'translator.cli', '--mappings',
                str(mappings_dir), 'translate', path]))
            bare.append(_wall([sys.executable, '-c', BARE_LOOP, path]))
    translate_us = 1e6 * statistics.median(translate) / count
    bare_us = 1e6 * statistics.median(bare) / count
    print('translator translate over %d lines (%d samples, each with a '
          'request context), start-up included, median of %d:'
          % (count, len(corpus), rounds))
    print('  translator translate   %6.1f us/line' % translate_us)
    print('  bare orjson loop       %6.1f us/line' % bare_us)
    print('  bare / translate = %.2f (target 0.6: %s)' % (
        bare_us / translate_us,
        'met' if bare_us / translate_us >= 0.6 else 'MISSED'))
    return translate_us, bare_us
