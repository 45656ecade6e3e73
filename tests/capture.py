"""Capture what a service sends over oslo.messaging's in-memory transport.

Imported by the judge scripts in .venv-nova and .venv-trove; needs nothing
but oslo.messaging.
"""

import time

import oslo_messaging

DONE = 'judge.done'


class Collector:
    def __init__(self):
        self.messages = []
        self.done = set()

    def _take(self, ctxt, publisher_id, event_type, payload, metadata,
              priority):
        if event_type == DONE:
            self.done.add(publisher_id)
            return
        message = {'message_id': metadata['message_id'],
                   'publisher_id': publisher_id, 'event_type': event_type,
                   'priority': priority, 'payload': payload,
                   'timestamp': metadata['timestamp']}
        message.update(('_context_%s' % k, v) for k, v in ctxt.items())
        self.messages.append(message)

    def info(self, *args):
        self._take(*args, priority='INFO')

    def error(self, *args):
        self._take(*args, priority='ERROR')


def collect(conf, topics, send_all):
    """Every notification send_all makes the service send on topics, in
    order per topic, each as the messagingv2 wire carries it: the inner
    message with the request context as ``_context_*`` keys."""
    transport = oslo_messaging.get_notification_transport(conf)
    collector = Collector()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=t) for t in topics],
        [collector], executor='threading')
    listener.start()
    send_all()
    # One marker per topic, sent last: once both are in, so is everything
    # before them.
    for topic in topics:
        oslo_messaging.Notifier(transport, topics=[topic],
                                driver='messagingv2',
                                publisher_id=topic).info({}, DONE, {})
    deadline = time.monotonic() + 300
    while collector.done != set(topics):
        if time.monotonic() > deadline:
            raise SystemExit('the in-memory transport lost a message')
        time.sleep(0.05)
    listener.stop()
    listener.wait()
    return collector.messages
