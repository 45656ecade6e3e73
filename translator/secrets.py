"""Secrets kept out of what the translator writes: request contexts,
message bodies and transport URLs, masked as oslo.utils masks them.

Versioned outputs carry the request context masked; dead letters keep the
body that came, with its context's secrets masked in place, and a body that
cannot even be parsed is masked at the byte level; transport URLs lose
their passwords in logs, errors and metrics.
"""

import json
import re

import orjson
from oslo_utils import strutils

from translator import envelope


def _fewest(names):
    """The names that contain no other: finding none of them finds none."""
    return tuple(n for n in names if not any(o != n and o in n
                                             for o in names))


#: What oslo.utils looks for, in lower-case text, to mask a value. It
#: names them privately: without them every context is masked by
#: oslo.utils itself, slowly but alike.
_SECRET_NAMES = _fewest(getattr(strutils, '_SANITIZE_KEYS', ()))
#: context keys (in order) -> those whose value oslo.utils masks whole
_secret_keys = {}
#: text -> whether one of those names is in it. Contexts repeat their
#: texts (tokens, user and project ids, roles): each is looked at once.
#: Emptied when full: request ids and timestamps never repeat.
_named = {}
_SCALARS = (type(None), bool, int, float)


class _Unusual(Exception):
    """A value JSON does not make; oslo.utils decides."""


def _texts(value, out):
    """Every string of a JSON value, nested keys included, into out."""
    cls = value.__class__
    if cls is str:
        out.append(value)
    elif cls is dict:
        for key, item in value.items():
            _texts(key, out)
            _texts(item, out)
    elif cls is list:
        for item in value:
            _texts(item, out)
    elif cls not in _SCALARS:
        raise _Unusual


def _names_in(text):
    found = _named.get(text)
    if found is None:
        lowered = text.lower()
        found = any(name in lowered for name in _SECRET_NAMES)
        if len(_named) >= 8192:
            _named.clear()
        _named[text] = found
    return found


def _masked_whole(keys):
    secret = _secret_keys.get(keys)
    if secret is None:
        secret = tuple(k for k in keys
                       if strutils.mask_dict_password({k: ''})[k] != '')
        if len(_secret_keys) < 256:  # a few kinds of context per bus
            _secret_keys[keys] = secret
    return secret


def redact_context(context):
    """The request context as oslo.utils' mask_dict_password masks it:
    tokens, passwords and secrets replaced by '***'. Its keys may carry
    their wire prefix: no name oslo.utils looks for spans it.

    oslo.utils lowers every key once per name it looks for (about 35) and
    scans every text for each of them: more than the whole translation.
    Here the texts of the context, each looked at once, say whether
    anything but a value under a secret-named key could be masked; only
    then does oslo.utils do it. Else those keys, found once per kind of
    context, are replaced.
    """
    if not context:
        return context
    if not _SECRET_NAMES:
        return strutils.mask_dict_password(context)
    for value in context.values():
        if value.__class__ is str:
            if _names_in(value):
                return strutils.mask_dict_password(context)
        elif value.__class__ not in _SCALARS:
            texts = []
            try:
                _texts(value, texts)
            except _Unusual:
                return strutils.mask_dict_password(context)
            if any(_names_in(text) for text in texts):
                return strutils.mask_dict_password(context)
    secret = _masked_whole(tuple(context))
    if not secret:
        return context
    masked = dict(context)
    for key in secret:
        if masked[key].__class__ is not dict:  # oslo.utils masks inside
            masked[key] = '***'
    return masked


def _splice(text, key, value, masked):
    """``text`` with the JSON member ``key: value`` written as oslo writes
    it (json.dumps) replaced by ``key: masked``, or None if absent."""
    old = '"%s": %s' % (key, json.dumps(value))
    if old not in text:
        return None
    return text.replace(old, '"%s": %s' % (key, json.dumps(masked)))


def redacted_body(raw):
    """The raw message with its request-context secrets masked as in
    versioned outputs, byte for byte otherwise.

    The masked values are spliced into the text oslo.messaging wrote, so
    what is kept stays what was sent; a body written otherwise is
    serialised again rather than left unmasked. A body that cannot be
    parsed (not JSON, not UTF-8, not an envelope) is masked byte by byte
    (``redacted_bytes``).
    """
    try:
        body = orjson.loads(raw)
        message = envelope.unwrap(body)
    except (orjson.JSONDecodeError, envelope.Malformed):
        return redacted_bytes(raw)
    if not isinstance(message, dict):
        return redacted_bytes(raw)
    context = envelope.context_of(message)
    masked = redact_context(context)
    changed = {k: v for k, v in masked.items() if v != context[k]}
    if not changed:
        return raw
    wanted = dict(message, **changed)
    wrapped = message is not body
    text = body['oslo.message'] if wrapped else raw.decode('utf-8')
    for key, value in changed.items():
        text = text and _splice(text, key, message[key], value)
    if text is not None:
        spliced = (raw.decode('utf-8').replace(
            json.dumps(body['oslo.message'])[1:-1], json.dumps(text)[1:-1])
            if wrapped else text).encode('utf-8')
        try:
            if envelope.unwrap(orjson.loads(spliced)) == wanted:
                return spliced
        except (orjson.JSONDecodeError, envelope.Malformed):
            pass
    inner = json.dumps(wanted)
    return json.dumps({'oslo.version': envelope.OSLO_VERSION, 'oslo.message': inner}
                      if wrapped else wanted).encode('utf-8')


#: A JSON member's key and the opening quote of its string value, as
#: written in the body or escaped inside a string of it (the messagingv2
#: envelope's oslo.message): the key's quotes and the value's carry the
#: same run of backslashes.
_MEMBER = re.compile(rb'(\\*)"([^"\\]{1,200})\1"\s*:\s*\1"')


def _value_end(raw, start, escapes):
    """Where the string value opened before ``start`` ends: the first
    quote behind a run of backslashes that, once the ``escapes`` of its
    level are taken off, escapes nothing."""
    period = 2 * (escapes + 1)
    at = start
    while True:
        at = raw.find(b'"', at)
        if at < 0:
            return len(raw)  # cut short: mask to the end
        run = at
        while run > start and raw[run - 1] == 0x5C:  # backslash
            run -= 1
        backslashes = at - run
        if backslashes >= escapes and (backslashes - escapes) % period == 0:
            return at - escapes
        at += 1


def redacted_bytes(raw):
    """The bytes with the string value of every member whose key names a
    secret (``auth_token``, ``password``, ...) replaced by ``***``,
    whatever else is wrong with them: a body with a byte that is not
    UTF-8, or JSON cut short, still keeps no token."""
    if not _SECRET_NAMES:
        return raw
    out = []
    done = 0
    for found in _MEMBER.finditer(raw):
        if found.start() < done:
            continue  # inside a value already masked
        key = found.group(2).decode('utf-8', 'replace').lower()
        if not any(name in key for name in _SECRET_NAMES):
            continue
        end = _value_end(raw, found.end(), len(found.group(1)))
        out += [raw[done:found.end()], b'***']
        done = end
    if not out:
        return raw
    out.append(raw[done:])
    return b''.join(out)


def mask_url(url):
    """The URL with every password replaced, for logs, errors and metrics."""
    if not url:
        return url
    scheme, sep, rest = url.partition('://')
    if not sep:
        return '***'
    hosts, slash, tail = rest.partition('/')
    masked = []
    for host in hosts.split(','):
        userinfo, at, address = host.rpartition('@')
        if at and ':' in userinfo:
            userinfo = userinfo.split(':', 1)[0] + ':***'
        masked.append(userinfo + at + address)
    return '%s://%s%s%s' % (scheme, ','.join(masked), slash, tail)


def mask_urls(text, urls):
    """``text`` with each of ``urls`` in it masked."""
    for url in urls:
        if url:
            text = text.replace(url, mask_url(url))
    return text
