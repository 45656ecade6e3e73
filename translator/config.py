"""Every option of the translator, for oslo.config and its sample generator.

``oslo-config-generator --namespace translator`` reads ``list_opts``.
"""

import argparse
import pathlib
import re
import sys

from oslo_config import cfg

import translator

FORMATS = ('unversioned', 'versioned', 'both')
LOCAL_BROKER = 'rabbit://guest:guest@127.0.0.1:5672/'


def shipped_dir(in_checkout, installed):
    """A directory the translator ships: the checkout's, else the copy a
    wheel installs as data under <prefix>/share/translator."""
    checkout = pathlib.Path(__file__).resolve().parent.parent / in_checkout
    if checkout.is_dir():
        return str(checkout)
    return str(pathlib.Path(sys.prefix) / 'share' / 'translator' / installed)


def default_mappings_dir():
    return shipped_dir('mappings', 'mappings')


notifications_opts = [
    cfg.StrOpt('notification_format', default='both', choices=FORMATS,
               help='Which notifications appear on the target bus for each '
                    "event, as in Nova: 'unversioned' the legacy one, "
                    "'versioned' the versioned one, 'both' both; once, "
                    'whatever each service sends: what it sent in a format '
                    'is passed on, what it did not send is made. Re-read on '
                    'SIGHUP.'),
]

source_opts = [
    cfg.StrOpt('transport_url', default=LOCAL_BROKER, secret=True,
               help='Bus the legacy notifications are read from '
                    '(rabbit://user:password@host:port/vhost).'),
    cfg.ListOpt('exchanges', default=['nova', 'trove', 'openstack'],
                help='Exchanges the services publish on (their '
                     'control_exchange).'),
    cfg.ListOpt('topics', default=['notifications'],
                help='Topics the legacy notifications are sent to.'),
    cfg.ListOpt('versioned_topics', default=['versioned_notifications'],
                help="Topics the services' own versioned notifications are "
                     "sent to (Nova's [notifications] "
                     'versioned_notifications_topics). The relay reads them '
                     'to know which events a service sent in both formats, '
                     'and makes legacy notifications of those it sent '
                     'versioned only, as notification_format asks. Empty: '
                     'none are read.'),
    cfg.StrOpt('pool', default='translator',
               help="The relay's own queue, shared by its replicas and "
                    'by no other consumer, so that existing consumers '
                    '(Ceilometer) lose nothing.'),
    cfg.BoolOpt('single_active_consumer', default=False,
                help='Declare the pool queue with one active consumer at a '
                     'time: replicas stand by and take over when it goes. '
                     'A legacy notification and its versioned twin must '
                     'reach the same relay to be known as twins; with '
                     'replicas sharing the pool and services that send '
                     'both formats, set it. RabbitMQ refuses to declare an '
                     'existing queue with another setting (README).'),
    # The queue kinds of oslo.messaging's [oslo_messaging_rabbit], with its
    # names and meaning, so that they are copied from nova.conf.
    cfg.BoolOpt('rabbit_quorum_queue', default=False,
                deprecated_name='quorum_queue',
                help="As oslo.messaging's: quorum queues (replicated, "
                     'durable) for the pool, the dead-letter queue and the '
                     'default queues the relay declares; exchanges it '
                     'creates are durable. RabbitMQ refuses to declare an '
                     'existing queue with another type (README).'),
    cfg.BoolOpt('amqp_durable_queues', default=False,
                deprecated_name='durable_exchanges',
                help="As oslo.messaging's: the exchanges and default queues "
                     'the relay creates are durable. It must match the '
                     "services' own, because RabbitMQ refuses to declare "
                     'an exchange again with another durability; those '
                     'that exist are used as they are. A broker that denies '
                     'transient queues (RabbitMQ 4 with '
                     'deprecated_features.permit.transient_nonexcl_queues '
                     '= false) gets durable ones whatever it says: the '
                     'services there must use them too. The pool and the '
                     'dead-letter queue are always durable.'),
    cfg.BoolOpt('rabbit_transient_quorum_queue', default=False,
                help="As oslo.messaging's: default queues that would be "
                     'transient (amqp_durable_queues off) are quorum '
                     'queues.'),
    cfg.IntOpt('rabbit_quorum_delivery_limit', default=0, min=0,
               help="As oslo.messaging's: the x-delivery-limit of default "
                    'queues that are quorum queues (0: none set). The '
                    "relay's own pool and dead-letter queue never drop a "
                    'message redelivered too often: on RabbitMQ 4, whose '
                    'quorum queues drop one after 20, they are given no '
                    'limit.'),
]

target_opts = [
    cfg.StrOpt('transport_url', secret=True,
               help="Bus the notifications are published on; default the "
                    "source's."),
    cfg.StrOpt('versioned_topic', default='versioned_notifications',
               help='Topic of the versioned notifications, as Nova names '
                    'it.'),
    cfg.StrOpt('legacy_topic', default='notifications',
               help="Topic of the legacy copies. A copy whose place is the "
                    "one it was read from is not published again."),
    cfg.StrOpt('dead_letter_topic', default='notifications_dead_letter',
               help='Topic of messages that cannot be translated, kept '
                    'intact (request-context secrets masked) with the '
                    'reason in their headers.'),
    cfg.StrOpt('dead_letter_queue', default='notifications_dead_letter',
               help='Durable queue (a quorum queue with [source] '
                    'rabbit_quorum_queue) that the relay declares and binds '
                    'to '
                    '<dead_letter_topic>.* on every exchange it publishes '
                    'dead letters to, before it consumes anything: a dead '
                    'letter is always kept. `translator dead-letters` reads '
                    'it.'),
    cfg.BoolOpt('declare_default_queues', default=True,
                help="As oslo.messaging's Notifier does: on its first "
                     'publish to <topic>.<priority> of an exchange (per '
                     'connection), declare a queue of that name bound to '
                     'it, so that versioned notifications and legacy '
                     'copies wait for consumers that do not exist yet. '
                     'Such queues grow while nobody reads them: cap them '
                     'with default_queue_max_length, '
                     'default_queue_message_ttl and default_queue_expires, '
                     'or a policy (README).'),
    cfg.IntOpt('default_queue_max_length', default=0, min=0,
               help='x-max-length of the default queues the relay creates: '
                    'the oldest messages beyond it are dropped (0: no '
                    'limit). For queues nobody reads.'),
    cfg.IntOpt('default_queue_message_ttl', default=0, min=0,
               help='x-message-ttl of the default queues the relay creates, '
                    'in seconds: messages older are dropped (0: kept). For '
                    'queues nobody reads.'),
    cfg.IntOpt('default_queue_expires', default=0, min=0,
               help='x-expires of the default queues the relay creates, in '
                    'seconds: one that nobody consumes or declares for so '
                    "long is deleted (0: never). oslo.messaging's "
                    'rabbit_transient_queues_ttl is this for its reply and '
                    'fanout queues.'),
    cfg.StrOpt('unroutable', default='hold', choices=[
        ('hold', 'do not acknowledge the source; reconnect with backoff '
                 'and retry until a queue takes the output'),
        ('acknowledge', 'count and log the output as lost, acknowledge '
                        'the source')],
        help='What to do when the target broker returns a versioned '
             'notification or legacy copy that no queue is bound for '
             '(possible only with declare_default_queues off). A returned '
             'dead letter is always held.'),
]

relay_opts = [
    cfg.StrOpt('mappings_dir', default=default_mappings_dir(),
               sample_default='<installed mappings>',
               help='Directory of the mapping set '
                    '(mappings/<service>/*.yaml). Re-read on SIGHUP.'),
    cfg.IntOpt('prefetch', default=1000, min=1,
               help='Source messages in flight at most: delivered to the '
                    'relay and not yet acknowledged.'),
    cfg.IntOpt('batch_size', default=250, min=1,
               help='Source messages translated and published before the '
                    'relay stops to collect confirms and acknowledge.'),
    cfg.FloatOpt('confirm_timeout', default=30.0, min=0.1,
                 help='Seconds the target broker may take to confirm a '
                      'publish, and either broker to answer a request or '
                      'take a write, before the relay reconnects and the '
                      'unconfirmed source messages are delivered again.'),
    cfg.FloatOpt('reconnect_delay_max', default=30.0, min=0.1,
                 help='Longest wait between reconnection attempts; waits '
                      'double from 0.5 s up to it.'),
    cfg.IntOpt('heartbeat', default=30, min=0,
               help='AMQP heartbeat interval in seconds (0 disables).'),
    cfg.IntOpt('watch_cache_size', default=100000, min=0,
               help='Resources remembered for change-only emission (rules '
                    'with `watch`); the least recently seen are forgotten.'),
    cfg.FloatOpt('twin_wait', default=2.0, min=0.0,
                 help='Seconds a legacy notification from a publisher that '
                      'sends versioned ones too waits for its versioned '
                      'twin before the relay makes one itself. Nova sends '
                      'the twin right after the legacy one (3 ms apart on '
                      'a test machine, 140 ms for the first of a kind).'),
    cfg.FloatOpt('problem_log_interval', default=10.0, min=0.0,
                 help='Per-message problems (dead letters, unroutable '
                      'outputs) are logged at most once per '
                      'kind in this many seconds, with the number seen; '
                      'the metrics keep every one. 0 logs each.'),
]

legacy_opts = [
    cfg.StrOpt('image_url', default='',
               help="The image service's URL, which Nova's legacy "
                    'image_ref_url begins with (<image_url>/images/<image '
                    "id>): Nova's [glance] api_servers, or the image "
                    "endpoint of its catalog. Empty: the bare image id, as "
                    'Nova sends it when it finds no endpoint.'),
]

metrics_opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address of the metrics and health endpoint.'),
    cfg.PortOpt('port', default=9717,
                help='Port of /metrics, /healthz and /readyz; 0 disables.'),
]


# -- TLS and host order of each bus ------------------------------------
#
# The names and meanings of oslo.messaging's [oslo_messaging_rabbit], so
# that an operator copies them from nova.conf; translator.settings reads
# them.

#: ssl_version values: the lowest TLS version the relay accepts.
_TLS_VERSION_CHOICES = [
    ('', "Python's default: TLS 1.2 or later"),
    ('TLSv1', 'TLS 1.0 or later'), ('TLSv1_1', 'TLS 1.1 or later'),
    ('TLSv1_2', 'TLS 1.2 or later'), ('TLSv1_3', 'TLS 1.3 or later'),
    ('SSLv23', "as empty: oslo.messaging's name for any version")]
TLS_VERSIONS = tuple(name for name, _ in _TLS_VERSION_CHOICES if name)


def _bus_opts(side):
    applies = ('' if side == 'source' else
               ' Used when [target] transport_url is set; otherwise the '
               'target bus is reached as the source bus is.')
    return [
        cfg.BoolOpt('ssl', default=False,
                    help='Connect to the %s bus over TLS. There is no '
                         'fallback to plaintext: a broker that does not '
                         'speak TLS on the port is an error.%s'
                         % (side, applies)),
        cfg.StrOpt('ssl_ca_file', default='',
                   help='CA certificates (PEM) the broker certificate must '
                        'be signed by; without it the system CAs are used. '
                        'Valid only with ssl.'),
        cfg.StrOpt('ssl_cert_file', default='',
                   help='Client certificate (PEM) for brokers that ask for '
                        'one. Valid only with ssl.'),
        cfg.StrOpt('ssl_key_file', default='',
                   help='Private key (PEM) of ssl_cert_file, unless that '
                        'file holds it. Valid only with ssl.'),
        cfg.StrOpt('ssl_version', default='', choices=_TLS_VERSION_CHOICES,
                   ignore_case=True,
                   help='Lowest TLS version accepted (oslo.messaging pins '
                        'the version instead; Python deprecates that). '
                        'Valid only with ssl.'),
        cfg.BoolOpt('ssl_enforce_hostname_verification', default=True,
                    help='With ssl_ca_file, check that the broker '
                         'certificate names the host of the transport URL '
                         'the relay connects to. Without ssl_ca_file the '
                         'hostname is never checked, as in oslo.messaging.'),
        cfg.StrOpt('kombu_failover_strategy', default='round-robin',
                   choices=[
                       ('round-robin', 'each reconnection starts at the '
                        'host after the one of the previous connection'),
                       ('shuffle', 'each reconnection starts at a random '
                        'host')],
                   help='Order in which the hosts of a transport URL naming '
                        'several are tried. Either way the first connection '
                        'starts at a random host, so that replicas spread '
                        'over a cluster.'),
    ]


def list_opts():
    return [('notifications', notifications_opts), ('source', source_opts),
            ('target', target_opts), ('relay', relay_opts),
            ('legacy', legacy_opts), ('metrics', metrics_opts),
            ('source', _bus_opts('source')), ('target', _bus_opts('target'))]


def register(conf):
    for group, opts in list_opts():
        conf.register_opts(opts, group=group)


# -- one clear line for each configuration mistake ----------------------


class Invalid(Exception):
    """A configuration mistake, said in one line: which option or file,
    where it is set and what is wrong with it."""


def load(conf, argv, project='translator'):
    """Parse the command line and the config files and check every value.

    oslo.config checks a value only when it is first read, deep inside a
    command, and reports it with a traceback; here every registered option
    is read at once.
    """
    try:
        conf(argv, project=project, version='%s %s' % (
            translator.DISTRIBUTION, translator.__version__))
    except cfg.ConfigFilesNotFoundError as exc:
        raise Invalid('--config-file %s: not found'
                      % ', '.join(exc.config_files)) from None
    except cfg.ConfigFilesPermissionDeniedError as exc:
        raise Invalid('--config-file %s: permission denied'
                      % ', '.join(exc.config_files)) from None
    except cfg.ConfigDirNotFoundError as exc:
        raise Invalid('--config-dir %s: not found'
                      % exc.config_dir) from None
    except cfg.ConfigFileParseError as exc:
        raise Invalid('--config-file %s: %s'
                      % (exc.config_file, exc.msg)) from None
    except OSError as exc:  # a directory given as a file, and the like
        raise Invalid('--config-file %s: cannot read: %s'
                      % (exc.filename, exc.strerror)) from None
    except UnicodeDecodeError:
        raise Invalid('--config-file %s: cannot read: not UTF-8 text'
                      % _undecodable(argv)) from None
    check_values(conf)


def _undecodable(argv):
    """The first config file named in argv that is not UTF-8 text."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--config-file', action='append', default=[])
    parser.add_argument('--config-dir', action='append', default=[])
    named, _ = parser.parse_known_args(argv)
    paths = [pathlib.Path(path) for path in named.config_file] + [
        path for directory in named.config_dir
        for path in sorted(pathlib.Path(directory).glob('*.conf'))]
    for path in paths:
        try:
            path.read_bytes().decode('utf-8')
        except UnicodeDecodeError:
            return path
    return '?'


def check_values(conf):
    for name in list(conf):
        group = 'DEFAULT'
        try:
            value = conf[name]
            if isinstance(value, cfg.ConfigOpts.GroupAttr):
                group = name
                for option in value:
                    value[option]
        except cfg.ConfigSourceValueError as exc:
            raise Invalid(_value_error(group, exc)) from None


#: How oslo.config words a bad value: the location, then the reason.
_VALUE_ERROR = re.compile(
    r"Value for option (\S+) from LocationInfo\(location=<Locations\.(\w+)"
    r"[^>]*>, detail='(.*)'\) is not valid: (.*)", re.S)


def _value_error(group, exc):
    match = _VALUE_ERROR.match(str(exc))
    if match is None:
        return '[%s] %s' % (group, exc)
    option, kind, detail, reason = match.groups()
    location = cfg.LocationInfo(cfg.Locations[kind], detail)
    return '%s: %s' % (_where(group, option, location), reason)


def where(conf, group, name):
    """'[group] name' and where its value was set, for messages."""
    return _where(group, name, conf.get_location(name, group))


def _where(group, name, location):
    text = '[%s] %s' % (group, name)
    kind = location.location if location else None
    if kind == cfg.Locations.user:
        return '%s in %s' % (text, location.detail)
    if kind == cfg.Locations.command_line:
        return '%s on the command line' % text
    if kind == cfg.Locations.environment:
        return '%s from environment variable %s' % (text, location.detail)
    return text
