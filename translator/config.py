"""Every option of the translator, for oslo.config and its sample generator.

``oslo-config-generator --namespace translator`` reads ``list_opts``.
"""

import pathlib
import sys

from oslo_config import cfg

FORMATS = ('unversioned', 'versioned', 'both')
LOCAL_BROKER = 'rabbit://guest:guest@127.0.0.1:5672/'


def default_mappings_dir():
    """The shipped mapping set: the checkout's, else the installed copy."""
    checkout = pathlib.Path(__file__).resolve().parent.parent / 'mappings'
    if checkout.is_dir():
        return str(checkout)
    return str(pathlib.Path(sys.prefix) / 'share' / 'translator' / 'mappings')


notifications_opts = [
    cfg.StrOpt('notification_format', default='both', choices=FORMATS,
               help='Which notifications appear on the target bus, as in '
                    "Nova: 'unversioned' the legacy ones only, 'versioned' "
                    "the translated ones only, 'both' both. Re-read on "
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
    cfg.StrOpt('pool', default='translator',
               help="The relay's own queue, shared by its replicas and "
                    'by no other consumer, so that existing consumers '
                    '(Ceilometer) lose nothing.'),
    cfg.BoolOpt('quorum_queue', default=False,
                help='Make the pool queue a quorum queue (replicated) '
                     'instead of a classic durable one.'),
    cfg.BoolOpt('durable_exchanges', default=False,
                help='Durability of exchanges the relay has to create. It '
                     "must match the services' [oslo_messaging_rabbit] "
                     'amqp_durable_queues, because RabbitMQ refuses to '
                     'declare an exchange again with another durability; '
                     'exchanges that exist are used as they are.'),
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
                    'quorum_queue) that the relay declares and binds to '
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
                     'Such queues grow while nobody reads them; cap them '
                     'with a policy (README).'),
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
    cfg.FloatOpt('problem_log_interval', default=10.0, min=0.0,
                 help='Per-message problems (dead letters, unroutable '
                      'outputs) are logged at most once per '
                      'kind in this many seconds, with the number seen; '
                      'the metrics keep every one. 0 logs each.'),
]

metrics_opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address of the metrics and health endpoint.'),
    cfg.PortOpt('port', default=9717,
                help='Port of /metrics, /healthz and /readyz; 0 disables.'),
]


def list_opts():
    return [('notifications', notifications_opts), ('source', source_opts),
            ('target', target_opts), ('relay', relay_opts),
            ('metrics', metrics_opts)]


def register(conf):
    for group, opts in list_opts():
        conf.register_opts(opts, group=group)
