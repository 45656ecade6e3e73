"""Change-only emission (rules with ``watch``): what was last emitted for
each watched resource."""

import collections

import orjson


class ChangeFilter:
    """Last emitted watched values per resource, for rules with `watch`.

    An update counts as emitted once published; it becomes what is known
    once confirmed, and is forgotten if it is not (the source message then
    comes back and is emitted again). Bounded: the least recently seen
    resources are forgotten first (a suppressed update counts as seen),
    and a forgotten resource's next update is emitted (never lost).
    """

    def __init__(self, size):
        self.size = size
        self._seen = collections.OrderedDict()
        self._in_flight = {}

    def check(self, rule, payload):
        """(emit?, memo to pass to remember or forget once settled)."""
        watch = rule.watch
        if not watch or not self.size:
            return True, None
        data = payload[rule.payload.data_key]
        key = (rule.payload.definition.namespace,
               rule.payload.definition.name, data.get(watch['identity']))
        state = orjson.dumps([data.get(f) for f in watch['fields_']],
                             option=orjson.OPT_SORT_KEYS)
        last = self._in_flight.get(key)
        if last is None:
            last = self._seen.get(key)
            if last is not None:
                self._seen.move_to_end(key)
        if last == state:
            return False, None
        self._in_flight[key] = state
        return True, (key, state)

    def remember(self, memo):
        """The update was confirmed."""
        key, state = memo
        self.forget(memo)
        self._seen[key] = state
        self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def forget(self, memo):
        """The update was refused, or is confirmed and now known."""
        key, state = memo
        if self._in_flight.get(key) == state:
            del self._in_flight[key]

    def connection_lost(self):
        self._in_flight.clear()
