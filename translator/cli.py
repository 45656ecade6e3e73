"""The ``translator`` command."""

import argparse
import sys

import orjson
from oslo_config import cfg
from oslo_log import log

from translator import config
from translator import translation
from translator.mapping import loader

LOG = log.getLogger(__name__)

def _load(mappings_dir, legacy_options=None):
    try:
        return translation.Translator.from_directory(mappings_dir,
                                                     legacy_options)
    except loader.MappingError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print('mapping set %s refused: %d problem(s)'
              % (mappings_dir, len(exc.problems)), file=sys.stderr)
        return None


def _lines(paths):
    if not paths:
        for number, line in enumerate(sys.stdin.buffer, 1):
            yield '<stdin>', number, line
        return
    for path in paths:
        with open(path, 'rb') as stream:
            for number, line in enumerate(stream, 1):
                yield path, number, line


def cmd_translate(conf):
    translator = _load(conf.mappings or conf.relay.mappings_dir,
                       {name: conf.legacy[name] or None
                        for name in conf.legacy})
    if translator is None:
        return 2
    translate = (translator.body_to_legacy
                 if conf.command.to == 'unversioned'
                 else translator.body_to_versioned)
    # Each line goes into a 64 KiB buffer: lines joined in batches made a
    # large block per batch, which malloc handed back to the system and
    # faulted in again (two page faults per line).
    out = open(sys.stdout.fileno(), 'wb', buffering=1 << 16, closefd=False)
    failures = 0
    try:
        for path, number, line in _lines(conf.command.files):
            if not line.strip():
                continue
            outcome = translate(line)
            if outcome.ok:
                for notification in outcome.notifications:
                    out.write(orjson.dumps(
                        notification, option=orjson.OPT_APPEND_NEWLINE))
                continue
            # a versioned event with no legacy form is said, not a failure
            failures += outcome.kind != translation.SKIPPED
            sys.stderr.write(orjson.dumps({
                'file': path, 'line': number, 'outcome': outcome.kind,
                'event_type': outcome.event_type,
                'reason': outcome.reason}).decode() + '\n')
    except OSError as exc:
        print('cannot read input: %s' % exc, file=sys.stderr)
        return 2
    finally:
        out.flush()
    return 1 if failures else 0


def cmd_validate_mappings(conf):
    directory = conf.command.directory or conf.relay.mappings_dir
    translator = _load(directory)
    if translator is None:
        return 1
    mset = translator.mapping_set
    print('mapping set %s: %d file(s), %d rule(s), %d payload class(es)'
          % (directory, len(mset.files), len(mset.rules),
             len(mset.payloads)))
    for (namespace, name), pdef in sorted(mset.payloads.items()):
        print('  %s.%s %s (%d fields)' % (namespace, name, pdef.version,
                                         len(pdef.fields)))
    return 0


def cmd_bench(conf):
    from translator import bench
    translator = _load(conf.mappings or conf.relay.mappings_dir)
    if translator is None:
        return 2
    corpus = conf.command.corpus or bench.DEFAULT_CORPUS
    if conf.command.what == 'translate':
        from translator.bench import translation as translation_bench
        translation_bench.run(translator, corpus, rounds=conf.command.rounds)
        if conf.command.lines:
            print()
            translation_bench.run_file(translator.mapping_set.root, corpus,
                                 conf.command.lines, conf.command.rounds)
        return 0
    from translator.bench import relay
    return relay.run(conf, translator, corpus, conf.command.messages,
                     conf.command.soak, conf.command.broker_node,
                     conf.command.pairs)


def cmd_relay(conf):
    from translator.mapping import loader as mapping_loader
    from translator.relay import loop
    from translator.relay import metrics
    from translator.transports import base
    # Problems are said outside the except blocks: there oslo.log appends
    # the exception to the line once more, as it is, unmasked.
    problem = None
    try:
        relay = loop.Relay(conf, metrics.RelayMetrics())
    except mapping_loader.MappingError as exc:
        problem = exc
    if problem is not None:
        LOG.error('relay not started: %s', problem)
        return 2
    server = None
    if conf.metrics.port:
        try:
            server = metrics.HealthServer(relay.metrics, relay.ready,
                                          conf.metrics.host,
                                          conf.metrics.port).start()
        except OSError as exc:
            problem = exc
        if problem is not None:
            LOG.error('relay not started: metrics endpoint %s:%s: %s',
                      conf.metrics.host, conf.metrics.port, problem)
            return 2
        LOG.info('metrics on http://%s:%d/metrics', conf.metrics.host,
                 server.port)
    relay.install_signal_handlers()
    try:
        relay.run()
    except base.BrokerRefused as exc:
        problem = exc
    finally:
        if server is not None:
            server.stop()
    if problem is not None:
        LOG.error('relay stopped: %s', relay.settings.masked(str(problem)))
        return 2
    return 0


def cmd_dead_letters(conf):
    from translator import settings as settings_module
    from translator.mapping import loader as mapping_loader
    from translator.relay import dead_letter_commands as commands
    from translator.transports import base
    command = conf.command
    settings = settings_module.Settings.from_conf(conf)
    try:
        if command.action == 'list':
            return commands.list_dead_letters(settings, command.limit)
        if command.dry_run:
            return commands.dry_run(commands.replay_settings(conf),
                                    command.limit)
        return commands.replay(conf, command.limit)
    except mapping_loader.MappingError as exc:
        print('dead-letters %s: %s' % (command.action, exc),
              file=sys.stderr)
        return 2
    except (base.StoreMissing, base.BrokerRefused, ConnectionError,
            *settings.target.driver.errors) as exc:
        print('dead-letters %s: %s' % (command.action, exc),
              file=sys.stderr)
        return 1


def cmd_docs(conf):
    from translator import docs
    written = docs.write_all(conf.mappings or conf.relay.mappings_dir,
                             conf.command.output)
    for path in written:
        print(path)
    return 0


def cmd_schema(conf):
    from translator.contracts import compatibility
    from translator.contracts import schema
    mappings_dir = conf.mappings or conf.relay.mappings_dir
    translator = _load(mappings_dir)
    if translator is None:
        return 2
    released = conf.command.compatible_with
    if released is None:
        for path in schema.write_all(translator.mapping_set,
                                     conf.command.output):
            print(path)
        return 0
    try:
        old = compatibility.load(released)
    except (OSError, ValueError) as exc:
        print('translator schema: %s' % exc, file=sys.stderr)
        return 2
    problems = compatibility.check(old, compatibility.classes(
        schema.documents(translator.mapping_set).values()))
    for problem in problems:
        print(problem)
    print('%s: %s with %s' % (mappings_dir, 'incompatible' if problems
                              else 'compatible', released))
    return 1 if problems else 0


def _at_least_one(text):
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            'not a whole number: %s' % text) from None
    if number < 1:
        raise argparse.ArgumentTypeError('must be at least 1: %s' % text)
    return number


def _add_commands(subparsers):
    parser = subparsers.add_parser(
        'relay', help='Consume legacy notifications, publish versioned ones '
        '(and legacy copies, dead letters) until SIGTERM; SIGHUP reloads.')
    parser.set_defaults(func=cmd_relay)
    parser = subparsers.add_parser(
        'translate', help='Translate JSON lines of legacy notifications '
        '(files, or stdin when none) to versioned ones on stdout, or, with '
        '--to unversioned, versioned ones to legacy ones.')
    parser.add_argument('--to', choices=['versioned', 'unversioned'],
                        default='versioned',
                        help='The format to translate to (default '
                        'versioned).')
    parser.add_argument('files', nargs='*', metavar='FILE')
    parser.set_defaults(func=cmd_translate)
    parser = subparsers.add_parser(
        'validate-mappings', help='Load and check a mapping set.')
    parser.add_argument('directory', nargs='?', metavar='DIR')
    parser.set_defaults(func=cmd_validate_mappings)
    parser = subparsers.add_parser(
        'dead-letters', help='The dead-letter queue ([target] '
        'dead_letter_queue): list what it holds, or replay it through the '
        'current mapping set.')
    actions = parser.add_subparsers(dest='action', required=True)
    listing = actions.add_parser(
        'list', help='Count the dead letters by outcome and reason and show '
        'a few; they stay in the queue.')
    replaying = actions.add_parser(
        'replay', help='Translate the dead letters again and publish what '
        'they become, acknowledging each once that is confirmed; what '
        'still fails goes back with its new reason. Exit status 1 if any '
        'did.')
    replaying.add_argument('--dry-run', action='store_true',
                           help='Only say what would happen; nothing is '
                           'published or taken.')
    for action in (listing, replaying):
        action.add_argument('--limit', type=int, metavar='N',
                            help='Only the first N dead letters.')
    parser.set_defaults(func=cmd_dead_letters)
    parser = subparsers.add_parser(
        'docs', help='Generate the mapping-language reference and the '
        'per-service event tables from the spec and the mapping set.')
    parser.add_argument('--output', metavar='DIR', default='doc')
    parser.set_defaults(func=cmd_docs)
    parser = subparsers.add_parser(
        'schema', help='Write a JSON Schema of every versioned '
        'notification (one per payload class version) and an AsyncAPI '
        'document of the bus; or, with --compatible-with, check the '
        'mapping set against the schemas of a release instead.')
    parser.add_argument('--output', metavar='DIR', default='doc/schema')
    parser.add_argument('--compatible-with', metavar='DIR',
                        help='Schemas of the last release (doc/schema-'
                        'released); exit 1 naming every payload class '
                        'whose version does not follow its changes.')
    parser.set_defaults(func=cmd_schema)
    parser = subparsers.add_parser(
        'bench', help='Benchmarks. "translate": per-message translation '
        'time over the golden samples, compiled path beside the naive '
        'object-building one. "relay": msg/s of a bare kombu loop, an '
        'oslo.messaging listener-to-Notifier relay and the translator relay '
        'on the [source] bus, end-to-end delay, RSS.')
    parser.add_argument('what', choices=['translate', 'relay'])
    parser.add_argument('--corpus', metavar='DIR',
                        help='Golden samples to use (default: those '
                        'shipped with the translator, tests/golden of a '
                        'checkout).')
    parser.add_argument('--rounds', type=int, default=5,
                        help='translate: rounds per sample.')
    parser.add_argument('--lines', type=int, default=96000,
                        help='translate: lines of the file `translator '
                        'translate` and the bare JSON loop are timed '
                        'over (0: not timed).')
    parser.add_argument('--messages', type=_at_least_one, default=20000,
                        help='relay: messages per throughput run.')
    parser.add_argument('--pairs', type=_at_least_one, default=3,
                        help='relay: how many times the Shovel and the '
                        'relay run in turn; c/s is the median of their '
                        'ratios.')
    parser.add_argument('--broker-node', metavar='NODE',
                        help='relay: the RabbitMQ node of the [source] '
                        'bus, for rabbitmqctl to set up the Shovel '
                        'baseline (default: rabbitmqctl\'s own).')
    parser.add_argument('--soak', action='store_true',
                        help='relay: also relay 1,000,000 messages and '
                        'compare the RSS at 100k and at 1M.')
    parser.set_defaults(func=cmd_bench)


#: Options of the whole command that operators also write after it
#: (``translator relay --config-file F``), as oslo services take them.
_HOISTED = ('--config-file', '--config-dir')


def _hoist_config_options(argv):
    front, rest = [], []
    args = iter(argv)
    for arg in args:
        name = arg.split('=', 1)[0]
        if name in _HOISTED:
            front.append(arg)
            if '=' not in arg:
                front.append(next(args, ''))
        else:
            rest.append(arg)
    return front + rest


def main(argv=None):
    conf = cfg.ConfigOpts()
    config.register(conf)
    conf.register_cli_opt(cfg.StrOpt(
        'mappings', metavar='DIR',
        help='Mapping set to use instead of [relay] mappings_dir.'))
    conf.register_cli_opt(cfg.SubCommandOpt(
        'command', title='commands', handler=_add_commands))
    log.register_options(conf)
    # oslo.messaging is imported only by the commands that reach a bus,
    # after logging is set up: the backend oslo.service loads with it
    # would log two lines of its own at INFO.
    log.set_defaults(default_log_levels=log.get_default_log_levels() + [
        'oslo_service.backend=WARN'])
    try:
        config.load(conf, _hoist_config_options(
            sys.argv[1:] if argv is None else argv))
        log.setup(conf, 'translator')
        return conf.command.func(conf)
    except config.Invalid as exc:
        print('translator: %s' % exc, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
