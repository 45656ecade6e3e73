"""The fleet's format switchboard: which events a service sent in both
formats, so that each reaches the target once in each format asked for.

Nova at ``notification_format = both`` sends an event's legacy
notification and, right after it, its versioned twin with the same
request id; at ``unversioned`` or ``versioned`` only one of them; and each
host has its own setting, changed host by host during an upgrade. Twins
are known by (host, request id, versioned event type), the legacy one's
by its translation; several events of one request under one key pair off
in order.

What is learned per host: whether it sends versioned notifications. A
legacy notification from a host that does is held up to ``wait`` seconds
for its twin, so that the relay passes on the host's own versioned one
rather than making one; from a host known to send only legacy ones it is
translated at once. A host not seen yet is held too where the target
already has the services' versioned notifications (the same bus and
topic), since a versioned notification made there could not be taken back
when the host's own comes; elsewhere its first is translated at once, and
should its twin come after all, that copy is not passed on. A host is
known to send only legacy notifications once a hold of its times out with
no versioned notification of its meanwhile, and sends versioned ones
again from the next that comes. A versioned notification never waits: its
legacy twin, if any, came first.

Twins split between replicas sharing the pool are not seen as twins: a
pool with one active consumer keeps them together (README).
"""

import collections
import time

#: Seconds an unpaired notification is remembered, for a twin that comes
#: late (counted as a duplicate) or for its own twin's arrival.
MEMORY = 60.0
#: Unpaired notifications remembered at most, and hosts.
SIZE = 100000

#: What a notification's arrival means.
TWIN = 'twin'  # its twin came before it: both formats were sent
LATE = 'late'  # its twin came before it and the relay had made one
HOLD = 'hold'  # (legacy) its twin may come: wait
MAKE = 'make'  # (legacy) no twin will come: make the versioned one
ALONE = 'alone'  # (versioned) no legacy twin came: make the legacy one
RELEASED = 'released'  # (versioned) the held legacy twin is released


class Held:
    """A legacy notification waiting for its versioned twin."""
    __slots__ = ('key', 'tag', 'since', 'deadline', 'make', 'entry')

    def __init__(self, key, tag, since, deadline, make):
        self.key = key
        self.tag = tag
        self.since = since
        self.deadline = deadline
        self.make = make  # what the relay makes when the twin does not come
        self.entry = None


class _Entry:
    """An unpaired notification: when it came, and whether the relay made
    the other format of it (a twin that comes later is a duplicate)."""
    __slots__ = ('at', 'made', 'held')

    def __init__(self, at, made, held=None):
        self.at = at
        self.made = made
        self.held = held


class Twins:
    def __init__(self, wait, hold_unknown=True, clock=time.monotonic):
        """``hold_unknown``: hold a host not seen yet (see above)."""
        self.wait = wait
        self.hold_unknown = hold_unknown
        self._clock = clock
        #: host -> when its last versioned notification came, or None
        #: when it is known to send only legacy ones
        self._hosts = collections.OrderedDict()
        #: (format, key) -> deque of _Entry, the oldest first
        self._unpaired = {}
        self._order = collections.deque()  # ((format, key), entry), by age
        self._held = collections.OrderedDict()  # id(Held) -> Held, by age

    def __len__(self):
        """How many legacy notifications are held."""
        return len(self._held)

    def _remember(self, fmt, key, entry):
        self._unpaired.setdefault((fmt, key), collections.deque()).append(
            entry)
        self._order.append(((fmt, key), entry))
        while len(self._order) > SIZE or (
                self._order and entry.at - self._order[0][1].at > MEMORY
                and self._order[0][1].held is None):
            self._drop(*self._order.popleft())

    def _drop(self, slot, entry):
        entries = self._unpaired.get(slot)
        if entries and entry in entries:
            entries.remove(entry)
            if not entries:
                del self._unpaired[slot]

    def _pair(self, fmt, key):
        """The oldest unpaired notification of ``fmt`` under ``key``, taken;
        None if there is none."""
        entries = self._unpaired.get((fmt, key))
        if not entries:
            return None
        entry = entries.popleft()
        if not entries:
            del self._unpaired[(fmt, key)]
        return entry

    def _host_seen(self, host, versioned_at):
        self._hosts[host] = versioned_at
        self._hosts.move_to_end(host)
        while len(self._hosts) > SIZE:
            self._hosts.popitem(last=False)

    def legacy(self, key, host, make_versioned):
        """A legacy notification came: TWIN, LATE, HOLD or MAKE.
        ``make_versioned``: whether the relay would make its versioned
        twin (else nothing waits for it)."""
        now = self._clock()
        entry = self._pair('versioned', key)
        if entry is not None:
            return LATE if entry.made else TWIN
        if make_versioned and (
                self._hosts[host] is not None if host in self._hosts
                else self.hold_unknown):
            return HOLD
        self._remember('legacy', key, _Entry(now, make_versioned))
        return MAKE

    def hold(self, key, tag, make):
        """Hold the legacy notification that ``legacy`` said HOLD of."""
        now = self._clock()
        held = Held(key, tag, now, now + self.wait, make)
        held.entry = _Entry(now, False, held)
        self._remember('legacy', key, held.entry)
        self._held[id(held)] = held
        return held

    def versioned(self, key, host, make_legacy):
        """A versioned notification came: (RELEASED, the Held it frees),
        (LATE, None) when the relay already made it, (TWIN, None) or
        (ALONE, None). ``make_legacy``: whether the relay makes the legacy
        one of a versioned notification that came alone."""
        now = self._clock()
        self._host_seen(host, now)
        entry = self._pair('legacy', key)
        if entry is None:
            self._remember('versioned', key, _Entry(now, make_legacy))
            return ALONE, None
        if entry.held is not None:
            del self._held[id(entry.held)]
            return RELEASED, entry.held
        return (LATE if entry.made else TWIN), None

    def expired(self):
        """The Held whose twin did not come in time, taken; their host is
        known to send only legacy notifications, unless a versioned one of
        its came meanwhile."""
        now = self._clock()
        done = []
        while self._held:
            held = next(iter(self._held.values()))
            if held.deadline > now:
                break
            del self._held[id(held)]
            held.entry.held = None
            held.entry.made = True  # the relay makes it now
            host = held.key[0]
            last = self._hosts.get(host)
            if last is None or last < held.since:
                self._host_seen(host, None)
            done.append(held)
        return done

    def next_deadline(self):
        if not self._held:
            return None
        return next(iter(self._held.values())).deadline

    def connection_lost(self):
        """What was not acknowledged comes again: forget it all but what
        is known of the hosts."""
        self._unpaired.clear()
        self._order.clear()
        self._held.clear()
