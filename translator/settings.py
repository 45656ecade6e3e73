"""What the relay and the dead-letter commands run with, read from the
configuration once and checked.

``config`` declares the options; this is the one place that reads them for
a run: the two buses (``Endpoint``), what to consume and where to publish.
A mistake raises ``config.Invalid`` naming the option and its file.
"""

import dataclasses
import ssl

from translator import config
from translator import secrets
from translator import transports


class ConfigError(config.Invalid):
    """A configuration the relay refuses to run with; says why."""


@dataclasses.dataclass(frozen=True)
class BusOptions:
    """How to reach a bus beyond its URL: TLS and the order of its hosts.

    The fields are the options of translator.config's bus block, named and
    meant as in oslo.messaging's [oslo_messaging_rabbit].
    """

    ssl: bool = False
    ssl_ca_file: str = ''
    ssl_cert_file: str = ''
    ssl_key_file: str = ''
    ssl_version: str = ''
    ssl_enforce_hostname_verification: bool = True
    kombu_failover_strategy: str = 'round-robin'

    @classmethod
    def from_group(cls, group):
        return cls(**{field.name: group[field.name]
                      for field in dataclasses.fields(cls)})

    def config_lines(self, *names):
        """The options as a config file section's lines, to pass them to
        a process of the benchmark; all of them, or those named."""
        return ''.join('%s = %s\n' % (name, getattr(self, name))
                       for name in names or [
                           field.name for field in dataclasses.fields(self)])

    def problem(self):
        """(option, what is wrong) of the first TLS file that cannot be
        used, or None: a bad path is a configuration mistake, not a
        connection failure to retry forever."""
        if not self.ssl:
            return None
        if self.ssl_key_file and not self.ssl_cert_file:
            return 'ssl_key_file', 'set without ssl_cert_file'
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for option, load in (
                ('ssl_ca_file', context.load_verify_locations),
                ('ssl_key_file', _readable),
                ('ssl_cert_file', lambda path: context.load_cert_chain(
                    path, self.ssl_key_file or None))):
            path = getattr(self, option)
            try:
                if path:
                    load(path)
            except OSError as exc:  # ssl.SSLError is one too
                what = ('not usable: %s' % exc.reason
                        if isinstance(exc, ssl.SSLError)
                        else 'cannot read: %s' % exc.strerror)
                return option, '%s: %s' % (path, what)
        return None


def _readable(path):
    with open(path, 'rb'):
        pass


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One bus: its transport URL (secret: mask it before showing it) and
    how to reach it."""

    url: str
    options: BusOptions = BusOptions()

    @property
    def driver(self):
        return transports.driver(self.url)

    @classmethod
    def from_conf(cls, conf, side):
        """The 'source' or 'target' bus; a target without a URL of its own
        is the source bus, reached the same way."""
        group = conf[side]
        if side == 'target' and not group.transport_url:
            return cls.from_conf(conf, 'source')
        try:
            transports.driver(group.transport_url).check(group.transport_url)
        except transports.BadURL as exc:
            raise config.Invalid('%s: %s' % (
                config.where(conf, side, 'transport_url'), exc)) from None
        options = BusOptions.from_group(group)
        problem = options.problem()
        if problem:
            raise config.Invalid('%s: %s' % (
                config.where(conf, side, problem[0]), problem[1]))
        return cls(group.transport_url, options)


@dataclasses.dataclass(frozen=True)
class Settings:
    source: Endpoint
    target: Endpoint
    same_bus: bool
    exchanges: tuple
    topics: tuple
    versioned_topics: tuple
    pool: str
    single_active_consumer: bool
    quorum: bool  # rabbit_quorum_queue
    durable: bool  # amqp_durable_queues
    transient_quorum: bool  # rabbit_transient_quorum_queue
    quorum_delivery_limit: int
    notification_format: str
    versioned_topic: str
    legacy_topic: str
    dead_letter_topic: str
    dead_letter_queue: str
    declare_default_queues: bool
    default_queue_max_length: int
    default_queue_message_ttl: int
    default_queue_expires: int
    unroutable: str
    mappings_dir: str
    prefetch: int
    batch_size: int
    confirm_timeout: float
    reconnect_delay_max: float
    heartbeat: int
    watch_cache_size: int
    twin_wait: float
    problem_log_interval: float
    #: what legacy templates read as {option.<name>}: the [legacy] group
    legacy_options: dict

    @classmethod
    def from_conf(cls, conf):
        source = Endpoint.from_conf(conf, 'source')
        target = Endpoint.from_conf(conf, 'target')
        same_bus = (source.driver is target.driver
                    and source.driver.same_bus(source.url, target.url))
        settings = cls(
            source, target, same_bus, tuple(conf.source.exchanges),
            tuple(conf.source.topics), tuple(conf.source.versioned_topics),
            conf.source.pool, conf.source.single_active_consumer,
            conf.source.rabbit_quorum_queue, conf.source.amqp_durable_queues,
            conf.source.rabbit_transient_quorum_queue,
            conf.source.rabbit_quorum_delivery_limit,
            conf.notifications.notification_format,
            conf.target.versioned_topic, conf.target.legacy_topic,
            conf.target.dead_letter_topic, conf.target.dead_letter_queue,
            conf.target.declare_default_queues,
            conf.target.default_queue_max_length,
            conf.target.default_queue_message_ttl,
            conf.target.default_queue_expires, conf.target.unroutable,
            conf.relay.mappings_dir, conf.relay.prefetch,
            conf.relay.batch_size, conf.relay.confirm_timeout,
            conf.relay.reconnect_delay_max, conf.relay.heartbeat,
            conf.relay.watch_cache_size, conf.relay.twin_wait,
            conf.relay.problem_log_interval,
            {name: conf.legacy[name] or None for name in conf.legacy})
        settings.check()
        return settings

    def check(self):
        if not self.exchanges or not self.topics:
            raise ConfigError('[source] exchanges and topics must not be '
                              'empty')
        both = set(self.topics) & set(self.versioned_topics)
        if both:
            raise ConfigError('[source] topics and versioned_topics both '
                              'name %s: a topic carries one format'
                              % ', '.join(sorted(both)))
        if self.same_bus:
            # The relay would take its own output for a service's. What it
            # publishes where services' versioned notifications are read
            # is marked as its own and passed over.
            for option, sources in (
                    ('versioned_topic', 'topics'),
                    ('dead_letter_topic', 'topics'),
                    ('dead_letter_topic', 'versioned_topics'),
                    ('legacy_topic', 'versioned_topics')):
                if getattr(self, option) in getattr(self, sources):
                    raise ConfigError(
                        '[target] %s %r is one of the [source] %s on the '
                        'same bus: the relay would consume its own output'
                        % (option, getattr(self, option), sources))
            # Where the relay reads its own outputs back, its pool takes
            # them even when no consumer's queue does: the broker would
            # not return them, and they would be dropped as its own.
            reads_back = (
                (self.wants_versioned
                 and self.versioned_topic in self.versioned_topics)
                or (self.wants_legacy and self.versioned_topics
                    and self.legacy_topic in self.topics))
            if reads_back and not self.declare_default_queues:
                raise ConfigError(
                    '[target] declare_default_queues = false, while the '
                    'relay reads back what it publishes on the same bus '
                    '([source] versioned_topics): an output no consumer '
                    'queue takes would reach only the relay\'s pool and '
                    'be lost. Declare the default queues, or set [source] '
                    'versioned_topics to none')

    #: What is set up when a connection opens (queues, bindings, qos).
    CONNECTION_FIELDS = (
        'source', 'target', 'exchanges', 'topics', 'versioned_topics',
        'pool', 'single_active_consumer', 'quorum', 'durable',
        'transient_quorum', 'quorum_delivery_limit', 'dead_letter_topic',
        'dead_letter_queue', 'declare_default_queues',
        'default_queue_max_length', 'default_queue_message_ttl',
        'default_queue_expires', 'prefetch', 'heartbeat')

    def needs_reconnect(self, other):
        return any(getattr(self, name) != getattr(other, name)
                   for name in self.CONNECTION_FIELDS)

    @property
    def wants_versioned(self):
        return self.notification_format != 'unversioned'

    @property
    def wants_legacy(self):
        return self.notification_format != 'versioned'

    def masked(self, text):
        """``text`` with the transport URLs in it masked."""
        return secrets.mask_urls(text, (self.source.url, self.target.url))
