"""Which source messages wait for which publish confirms: what may be
acknowledged, in delivery order."""

import collections
import time


class _Waiting:
    """A source message whose outputs are not all confirmed (a decision
    still to come counts as one)."""
    __slots__ = ('unconfirmed', 'timestamp')

    def __init__(self, timestamp):
        self.unconfirmed = 0
        self.timestamp = timestamp  # the legacy one, for the delay metric


class _Sent:
    """One published output, until its confirm."""
    __slots__ = ('tag', 'memo', 'sent_at', 'kind')

    def __init__(self, tag, memo, sent_at, kind):
        self.tag = tag  # of its source message
        self.memo = memo  # for the change-only filter, or None
        self.sent_at = sent_at
        self.kind = kind


class Ledger:
    def __init__(self):
        # source tag -> _Waiting; insertion order is delivery order, which
        # bulk acknowledgements rely on.
        self.waiting = collections.OrderedDict()
        # target publish sequence number -> _Sent
        self.sent = collections.OrderedDict()

    def __len__(self):
        return len(self.waiting)

    def open(self, tag, timestamp):
        self.waiting[tag] = _Waiting(timestamp)

    def hold(self, tag):
        """The source message's outputs are not all decided yet."""
        self.waiting[tag].unconfirmed += 1

    def release(self, tag):
        """They are now (and published, if any)."""
        waiting = self.waiting.get(tag)
        if waiting is not None:
            waiting.unconfirmed -= 1

    def expect(self, tag, seq, memo, kind):
        self.waiting[tag].unconfirmed += 1
        self.sent[seq] = _Sent(tag, memo, time.monotonic(), kind)

    def kind(self, seq):
        """The kind of an output still unconfirmed, or None."""
        sent = self.sent.get(seq)
        return sent.kind if sent is not None else None

    def settle(self, seq, multiple):
        """Confirmed sequence numbers -> [(source tag, memo)]; the tag is
        None where the source message was already delivered again."""
        if multiple:
            done = []
            while self.sent and next(iter(self.sent)) <= seq:
                done.append(self.sent.popitem(last=False)[1])
        else:
            done = [self.sent.pop(seq)] if seq in self.sent else []
        settled = []
        for sent in done:
            waiting = self.waiting.get(sent.tag)
            if waiting is None:  # its source was already delivered again
                settled.append((None, sent.memo))
            else:
                waiting.unconfirmed -= 1
                settled.append((sent.tag, sent.memo))
        return settled

    def fail(self, seq, multiple):
        """Refused sequence numbers -> [(source tag to deliver again or
        None if it already is, memo)]."""
        return [(tag if tag is not None and self.waiting.pop(tag, None)
                 is not None else None, memo)
                for tag, memo in self.settle(seq, multiple)]

    def completed(self):
        """Source messages whose outputs are all confirmed, in order.

        Returns [(tag, timestamp)] of the longest fully confirmed prefix,
        so that one acknowledgement of the last tag, ``multiple``, covers
        them.
        """
        done = []
        while self.waiting:
            tag, waiting = next(iter(self.waiting.items()))
            if waiting.unconfirmed:
                break
            self.waiting.popitem(last=False)
            done.append((tag, waiting.timestamp))
        return done

    def oldest_unconfirmed_age(self):
        if not self.sent:
            return 0.0
        return time.monotonic() - next(iter(self.sent.values())).sent_at
