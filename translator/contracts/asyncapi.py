"""An AsyncAPI 3.0 document of what the relay publishes.

Per exchange of the default ``[source] exchanges``, one channel per kind of
output (versioned, legacy copy, dead letter) with the routing keys and
topics of the default configuration. A versioned message's body is the
messagingv2 envelope; the notification is the JSON text in its
``oslo.message``, described by ``contentSchema``, a reference to the
notification's JSON Schema file beside this document.
"""

import translator
from translator import config, docs
from translator.relay import dead_letter

FILE = 'asyncapi.json'
AMQP = '0.3.0'
_DEFAULTS = {opt.dest: opt.default
             for opt in config.source_opts + config.target_opts}


def _wrapped(content, description):
    """The messagingv2 body around one JSON text."""
    return {
        'type': 'object',
        'required': ['oslo.version', 'oslo.message'],
        'properties': {
            'oslo.version': {'const': '2.0'},
            'oslo.message': dict(content, type='string',
                                 contentMediaType='application/json',
                                 description=description),
        },
        'additionalProperties': False,
    }


def message_key(namespace, name, version):
    """The key of a payload class version's message."""
    return '%s.%s-%s' % (namespace, name, version)


def _versioned_message(pdef, rules, path):
    event_types = [rule['event_type'] for rule in rules]
    return {
        'name': pdef.name,
        'title': '%s %s' % (pdef.name, pdef.version),
        'summary': 'Event types %s (its schema lists them).' % ', '.join(
            event_types),
        'description': pdef.doc or pdef.name,
        'contentType': 'application/json',
        'payload': _wrapped(
            {'contentSchema': {'$ref': path.as_posix()}},
            'The notification as JSON text; its JSON Schema (draft '
            '2020-12) is %s.' % path.as_posix()),
        'bindings': {'amqp': {'contentEncoding': 'utf-8',
                              'bindingVersion': AMQP}},
    }


_ANY_BODY = {'description': (
    "Whatever the service sent, byte for byte: usually a messagingv2 "
    "body whose oslo.message is a legacy notification (event_type, "
    "payload, publisher_id, priority, message_id, timestamp, "
    "_context_*). It need not be JSON at all. A legacy notification the "
    "relay made of a versioned one is such a messagingv2 body, with "
    "_unique_id and the request context, its secrets masked.")}


def _other_messages():
    prefix = dead_letter.PREFIX
    headers = dead_letter.HEADERS
    return {
        'legacyCopy': {
            'name': 'legacy', 'title': 'Legacy notification',
            'summary': 'A legacy notification: the service\'s own, or '
                       'made of its versioned one.',
            'contentType': 'application/json', 'payload': _ANY_BODY,
        },
        'deadLetter': {
            'name': 'dead_letter', 'title': 'Dead letter',
            'summary': 'A message the relay could not translate.',
            'description': (
                'The body is the original, except that request-context '
                'secrets (_context_auth_token and the like) are masked as '
                'in versioned notifications; `translator dead-letters` '
                'lists and replays them.'),
            'contentType': 'application/json', 'payload': _ANY_BODY,
            'headers': {
                'type': 'object',
                'required': [prefix + name for name in headers
                             if name not in dead_letter.OPTIONAL],
                'properties': {
                    prefix + 'outcome': {
                        'type': 'string', 'description':
                        headers['outcome'],
                        'enum': list(dead_letter.OUTCOMES)},
                    **{prefix + name: {'type': 'string',
                                       'description': text}
                       for name, text in headers.items()
                       if name != 'outcome'}},
            },
        },
    }


_KINDS = (
    ('versioned', 'versioned_topic', 'Versioned notifications, as the '
     'service would send them natively: translated from its legacy ones, '
     'or its own, copied when the relay reads them from another topic or '
     'bus. The relay declares the queue {topic}.<priority> bound to the '
     'routing key on its first publish, as oslo.messaging\'s Notifier '
     'does. Each event once, whatever the service sent.'),
    ('legacy', 'legacy_topic', 'Legacy notifications: the services\' own, '
     'copied when the relay reads them from another topic or bus, or made '
     'of the versioned ones of a service that sent no legacy one. Each '
     'event once, whatever the service sent.'),
    ('deadLetter', 'dead_letter_topic', 'Messages that cannot be '
     'translated. The queue {queue} (durable) is bound to {topic}.* on '
     'every exchange before the relay consumes anything.'),
)


def _channel(exchange, kind, topic_option, text, messages):
    topic = _DEFAULTS[topic_option]
    return {
        'address': topic + '.{priority}',
        'title': '%s on %s' % (kind, exchange),
        'description': text.format(topic=topic,
                                   queue=_DEFAULTS['dead_letter_queue']),
        'parameters': {'priority': {
            'description': 'The priority in lower case.',
            'examples': ['info', 'error']}},
        'messages': {key: {'$ref': '#/components/messages/' + key}
                     for key in messages},
        'bindings': {'amqp': {
            'is': 'routingKey',
            'exchange': {'name': exchange, 'type': 'topic',
                         'durable': _DEFAULTS['amqp_durable_queues'],
                         'autoDelete': False, 'vhost': '/'},
            'bindingVersion': AMQP}},
    }


def document(mapping_set, emitted):
    """The AsyncAPI document; ``emitted``: (PayloadDef, rule specs, path
    of its JSON Schema) of every class version sent."""
    sent = [(message_key(pdef.namespace, pdef.name, pdef.version), pdef,
             rules, path) for pdef, rules, path in emitted]
    messages = {key: _versioned_message(pdef, rules, path)
                for key, pdef, rules, path in sent}
    messages.update(_other_messages())
    channels, operations = {}, {}
    for exchange in _DEFAULTS['exchanges']:
        # A service sends on its control_exchange, Nova's 'nova', Trove's
        # 'trove'; any other exchange may carry any of them.
        versioned = [key for key, pdef, _, _ in sent
                     if docs.service_of(mapping_set, pdef.file) == exchange]
        if not versioned:
            versioned = [key for key, _, _, _ in sent]
        carried = {'versioned': versioned, 'legacy': ['legacyCopy'],
                   'deadLetter': ['deadLetter']}
        for kind, option, text in _KINDS:
            name = '%s.%s' % (exchange, kind)
            channels[name] = _channel(exchange, kind, option, text,
                                      carried[kind])
            operations['send.' + name] = {
                'action': 'send',
                'channel': {'$ref': '#/channels/' + name},
                'messages': [{'$ref': '#/channels/%s/messages/%s' % (
                    name, key)} for key in carried[kind]],
                'bindings': {'amqp': {'deliveryMode': 2, 'mandatory': True,
                                      'bindingVersion': AMQP}},
            }
    return {
        'asyncapi': '3.0.0',
        'info': {
            'title': 'translator',
            'version': translator.__version__,
            'description': (
                'What the translator relay publishes on the [target] bus, '
                'with the default configuration: each output goes to the '
                'exchange its legacy notification came from. Persistent, '
                'published mandatory, content type application/json.'),
        },
        'defaultContentType': 'application/json',
        'channels': channels,
        'operations': operations,
        'components': {'messages': messages},
    }
