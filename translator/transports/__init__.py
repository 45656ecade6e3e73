"""Transports: how the relay reaches a bus, one driver per kind of bus.

A driver is found by the scheme of a transport URL among the
``translator.transports`` entry points (``rabbit`` and ``amqp``, AMQP
0-9-1, are this package's own), as oslo.messaging finds its drivers. It
implements the boundary of ``translator.transports.base``: a source the
relay consumes, a target it publishes to and a dead-letter store. The
relay's loop knows nothing else of a bus.
"""

import functools
import importlib.metadata

from translator import secrets

ENTRY_POINTS = 'translator.transports'


class BadURL(ValueError):
    """A transport URL that cannot be used; says why, its password
    masked."""


def _scheme(url):
    scheme, sep, _ = (url or '').partition('://')
    return scheme if sep else ''


@functools.cache
def _drivers():
    return {entry.name: entry
            for entry in importlib.metadata.entry_points(group=ENTRY_POINTS)}


@functools.cache
def _load(value):
    """One driver per class, whatever schemes name it."""
    return importlib.metadata.EntryPoint(None, value, ENTRY_POINTS).load()()


def driver(url):
    """The driver of a transport URL's scheme; BadURL when none is
    installed for it."""
    scheme = _scheme(url)
    if not scheme:
        raise BadURL('invalid transport URL %s: it names no transport '
                     '(rabbit://...)' % secrets.mask_url(url))
    if scheme not in _drivers():
        raise BadURL('transport %r of %s is not supported: the transports '
                     'installed are %s' % (
                         scheme, secrets.mask_url(url), ', '.join(
                             '%s://' % name for name in sorted(_drivers()))))
    return _load(_drivers()[scheme].value)
