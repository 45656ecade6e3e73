"""Notifications as they travel: oslo.messaging's ``messagingv2`` wire
format, read and written.

Input is either the oslo.messaging ``messagingv2`` body
``{"oslo.version": "2.0", "oslo.message": "<json>"}`` or the inner message
as a plain dict. Output message ids are uuid5 of the input's id, so a
redelivered input gives the same ids and consumers can drop duplicates.
Masking the secrets they carry is ``translator.secrets``' job.
"""

import hashlib
import uuid

import orjson

_sha1 = hashlib.sha1
OSLO_VERSION = '2.0'
#: uuid5 namespace of every message id the translator derives.
ID_NAMESPACE = uuid.UUID('5e1c3a0e-7d0b-5d8c-9a57-6c0ae7a6b1f4')
_NS_BYTES = ID_NAMESPACE.bytes
CONTEXT_PREFIX = '_context_'
DEFAULT_PRIORITY = 'INFO'


class Malformed(Exception):
    """Input that is not a notification at all; the text says why."""


class Notification:
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
    """A Notification from the inner message dict."""
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
    return Notification(
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
    """A Notification from raw bytes or text of one message."""
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
