"""The boundary between the relay and a bus: what a driver implements.

The relay's loop waits on the sources' and targets' file descriptors,
lets each ``pump`` what has arrived (deliveries, confirms) into the
callbacks it gave, and calls only the methods below. A second transport
(Kafka, as oslo.messaging has for notifications) implements these three
classes and a ``Driver``, registers it under the ``translator.transports``
entry points, and the loop, the ledger and the metrics stay as they are.
"""

import abc
import collections

#: The kinds of output, as metrics and logs name them.
VERSIONED = 'versioned'
LEGACY = 'legacy'
DEAD_LETTER = 'dead_letter'
KINDS = (VERSIONED, LEGACY, DEAD_LETTER)

#: One message taken from a source. ``received``: time.monotonic() when it
#: came; ``redelivered``: the bus delivered it before, unacknowledged;
#: ``headers``: its message headers, read only where someone needs them
#: (the dead-letter store), else None; ``own``: a translator published it
#: (the target marks its outputs so).
Delivery = collections.namedtuple(
    'Delivery',
    'tag exchange routing_key body received redelivered headers own',
    defaults=(False, None, False))

#: One message to publish. ``kind``: one of KINDS; ``origin``: the format
#: of the message it comes from (VERSIONED or LEGACY: a copy when it is
#: ``kind``, else a translation; metrics count both directions by it);
#: ``headers``: message headers or None; ``remember``: what the change-only
#: filter learns once it is confirmed (or None); ``outcome``: for a dead
#: letter, the outcome kind of its translation.
Output = collections.namedtuple(
    'Output',
    'kind origin exchange routing_key body headers remember outcome')


class Side(abc.ABC):
    """What a source and a target have alike: a connection the loop waits
    on, feeds and lets go."""

    @abc.abstractmethod
    def fileno(self):
        """The descriptor that is readable when something arrived."""

    @abc.abstractmethod
    def buffered(self):
        """Whether data was read that ``pump`` has not handled yet (the
        descriptor would not say so)."""

    @abc.abstractmethod
    def pump(self):
        """Handle what has arrived, without blocking: the callbacks run."""

    @abc.abstractmethod
    def tick(self):
        """Called every turn of the loop: keep the connection alive."""

    @abc.abstractmethod
    def close(self):
        """Let the connection go; never raises. What a source delivered
        and nobody acknowledged is delivered again."""


class Source(Side):
    """A queue consumed: each message reaches ``on_delivery(Delivery)``
    (given to the driver) from ``pump``."""

    #: what is consumed, for logs
    name = ''

    @abc.abstractmethod
    def acknowledge(self, tag, multiple):
        """Done with the delivery ``tag`` (and, if multiple, every one
        delivered before it)."""

    @abc.abstractmethod
    def reject(self, tag):
        """Give the delivery back, to be delivered again."""

    @abc.abstractmethod
    def stop_consuming(self):
        """No more deliveries; those made stay to be acknowledged."""

    @abc.abstractmethod
    def depth(self):
        """How many messages wait to be delivered."""


class Target(Side):
    """Publishing, confirmed later, each output marked as the relay's own
    (a Source delivers it back with ``own``): ``publish`` returns a
    sequence number
    and ``pump`` reports each, to the callbacks given to the driver, as
    ``on_confirm(seq, multiple)``, ``on_refuse(seq, multiple)`` (the bus
    will not keep it) or ``on_return(seq, why)`` (nothing would receive
    it: the bus gives it back, before its confirm)."""

    @abc.abstractmethod
    def publish(self, output):
        """Send one Output; its sequence number (ascending)."""

    @abc.abstractmethod
    def hold(self):
        """Keep what is published from now on, to send in one go."""

    @abc.abstractmethod
    def flush(self):
        """Send what is held."""


class BrokerRefused(Exception):
    """The bus refuses what the relay sets up, for good (an entity that
    exists with other arguments, a feature the broker denies): retrying
    would not change it. Says what was refused and the option to set."""


class StoreMissing(Exception):
    """The dead-letter store is not there: nothing was dead-lettered, or
    the configuration names another; says which."""


class DeadLetterStore(abc.ABC):
    """Where dead letters are kept on the target bus. The target makes it
    ready before anything is consumed and publishes dead letters into it
    (Outputs of kind DEAD_LETTER); the dead-letter commands read them back
    (``translator.relay.dead_letter`` says what a dead letter holds)."""

    #: where it is, for messages (its URL masked)
    name = ''

    @abc.abstractmethod
    def depth(self):
        """How many dead letters it holds."""

    @abc.abstractmethod
    def browse(self, limit, on_letter):
        """Hand the first ``limit`` (None: all) dead letters, as Delivery
        with headers, to ``on_letter``, leaving them where they are; how
        many it holds."""

    @abc.abstractmethod
    def source(self, settings, on_delivery):
        """A Source that takes the dead letters (Delivery with headers),
        ``settings.prefetch`` at a time."""


class Driver(abc.ABC):
    """One transport, made once per process."""

    #: What a lost or refused connection raises: the loop then drops its
    #: connections and reconnects with backoff.
    errors = ()

    @abc.abstractmethod
    def check(self, url):
        """Raise transports.BadURL if the URL cannot be used."""

    @abc.abstractmethod
    def same_bus(self, url_a, url_b):
        """Whether two URLs of this transport reach the same bus."""

    @abc.abstractmethod
    def source(self, settings, on_delivery):
        """The relay's source on ``settings.source``: its pool, bound to
        the topics of every exchange, consumed."""

    @abc.abstractmethod
    def target(self, settings, on_confirm, on_refuse, on_return):
        """The relay's target on ``settings.target``, its dead-letter
        store ready."""

    @abc.abstractmethod
    def dead_letter_store(self, settings):
        """The DeadLetterStore of ``settings.target``."""
