"""Notifications as they travel: reading legacy ones, shaping versioned ones.

Input is either the oslo.messaging ``messagingv2`` body
``{"oslo.version": "2.0", "oslo.message": "<json>"}`` or the inner message
as a plain dict. Output message ids are uuid5 of the input's id, so a
redelivered input gives the same ids and consumers can drop duplicates.
"""

import hashlib
import json
import uuid

import orjson
from oslo_utils import strutils

_sha1 = hashlib.sha1
OSLO_VERSION = '2.0'
#: uuid5 namespace of every message id the translator derives.
ID_NAMESPACE = uuid.UUID('5e1c3a0e-7d0b-5d8c-9a57-6c0ae7a6b1f4')
_NS_BYTES = ID_NAMESPACE.bytes
CONTEXT_PREFIX = '_context_'
DEFAULT_PRIORITY = 'INFO'


class Malformed(Exception):
    """Input that is not a notification at all; the text says why."""


class LegacyNotification:
    __slots__ = ('message_id', 'publisher_id', 'event_type', 'priority',
                 'payload', 'timestamp', 'message')

    def __init__(self, message_id, publisher_id, event_type, priority,
                 payload, timestamp, message):
        self.message_id = message_id
        self.publisher_id = publisher_id
        self.event_type = event_type
        self.priority = priority
        self.payload = payload
        self.timestamp = timestamp
        self.message = message  # the inner message, as it came

    def context(self):
        """Made on demand: translating needs no copy."""
        return context_of(self.message)


def context_of(message):
    """The request context sent beside the payload, as on the wire:
    ``_context_<key>``."""
    return {key: value for key, value in message.items()
            if key.startswith(CONTEXT_PREFIX)}


def _text(message, key, required=True):
    value = message.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise Malformed('%s is %s' % (key, 'missing' if value is None else
                                      'not a non-empty string'))
    return value


def from_message(message, raw=None):
    """A LegacyNotification from the inner message dict."""
    if not isinstance(message, dict):
        raise Malformed('the message is not a JSON object')
    event_type = _text(message, 'event_type')
    payload = message.get('payload')
    if not isinstance(payload, dict):
        raise Malformed('payload is %s' % ('missing' if payload is None
                                           else 'not a JSON object'))
    metadata = message.get('metadata')
    if not isinstance(metadata, dict):
        metadata = {}
    message_id = message.get('message_id', metadata.get('message_id'))
    if message_id is None:
        # Without an id of its own, the content is the identity.
        if raw is None:
            raw = orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
        elif isinstance(raw, str):
            raw = raw.encode()
        message_id = str(uuid.uuid5(ID_NAMESPACE,
                                    bytes(raw).decode('utf-8', 'replace')))
    elif not isinstance(message_id, str):
        raise Malformed('message_id is not a string')
    priority = _text(message, 'priority', required=False) or DEFAULT_PRIORITY
    return LegacyNotification(
        message_id, _text(message, 'publisher_id'), event_type,
        priority.upper(), payload,
        message.get('timestamp', metadata.get('timestamp')), message)


def unwrap(body):
    """The inner message dict of a decoded body, wire envelope or plain."""
    if not isinstance(body, dict):
        raise Malformed('not a JSON object')
    if 'oslo.message' not in body and 'oslo.version' not in body:
        return body
    version = body.get('oslo.version')
    if version != OSLO_VERSION:
        raise Malformed('unsupported oslo.version %r' % (version,))
    inner = body.get('oslo.message')
    if not isinstance(inner, str):
        raise Malformed('oslo.message is not a JSON string')
    try:
        return orjson.loads(inner)
    except orjson.JSONDecodeError as exc:
        raise Malformed('oslo.message is not valid JSON: %s' % exc) from None


def parse(raw):
    """A LegacyNotification from raw bytes or text of one message."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Malformed('not valid JSON: %s' % exc) from None
    return from_message(unwrap(body), raw)


def derived_id(source_id, index):
    """Message id of the index-th output of the source message.

    uuid.uuid5 without building UUID objects, which cost more than the
    hash; the test holds the two equal.
    """
    digest = bytearray(_sha1(_NS_BYTES + (
        '%s/%d' % (source_id, index)).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def versioned(source, index, publisher_id, event_type, priority, payload):
    return {
        'message_id': derived_id(source.message_id, index),
        'publisher_id': publisher_id,
        'event_type': event_type,
        'priority': priority,
        'payload': payload,
        'timestamp': source.timestamp,
    }


def wire_body(message, context=None):
    """The messagingv2 body that carries one message and the request
    context (``_context_*`` keys)."""
    inner = {**message, **context} if context else message
    return orjson.dumps({'oslo.version': OSLO_VERSION,
                         'oslo.message': orjson.dumps(inner).decode()})


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
    versioned outputs, byte for byte otherwise; a body that cannot be
    parsed as a notification's stays as it is.

    The masked values are spliced into the text oslo.messaging wrote, so
    what is kept stays what was sent; a body written otherwise is
    serialised again rather than left unmasked.
    """
    try:
        body = orjson.loads(raw)
        message = unwrap(body)
    except (orjson.JSONDecodeError, Malformed):
        return raw
    if not isinstance(message, dict):
        return raw
    context = context_of(message)
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
            if unwrap(orjson.loads(spliced)) == wanted:
                return spliced
        except (orjson.JSONDecodeError, Malformed):
            pass
    inner = json.dumps(wanted)
    return json.dumps({'oslo.version': OSLO_VERSION, 'oslo.message': inner}
                      if wrapped else wanted).encode('utf-8')
