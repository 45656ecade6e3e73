"""The two relays the translator is measured against, each run in a
process of its own by the relay benchmark.

- ``kombu_loop``: a bare kombu consume-and-republish loop without
  publisher confirms: the ceiling of what a Python relay can move.
- ``oslo_relay``: what an operator writes with oslo.messaging alone, a
  notification listener whose endpoint republishes with a Notifier.

Both read the benchmark's pool queue and write each message unchanged to
``versioned_notifications.info`` on the same exchange, so the benchmark
counts their output exactly as the translator's.
"""

OUTPUT_KEY = 'versioned_notifications.info'


def kombu_loop(url, exchange, pool, prefetch, stop):
    import kombu
    # kombu names the transport oslo.messaging calls rabbit:// amqp://.
    url = 'amqp://' + url.partition('://')[2]
    # Publishing on the consuming connection would recurse: py-amqp reads
    # pending frames, deliveries included, before each publish.
    with kombu.Connection(url) as conn, kombu.Connection(url) as out:
        channel = conn.channel()
        channel.basic_qos(0, prefetch, False)
        producer = kombu.Producer(out.channel())
        queue = kombu.Queue(pool, kombu.Exchange(exchange, 'topic',
                                                 durable=True),
                            'notifications.*', durable=True,
                            auto_delete=False, channel=channel)

        def relay(message):
            producer.publish(message.body, exchange=exchange,
                             routing_key=OUTPUT_KEY,
                             content_type='application/json',
                             content_encoding='utf-8')
            message.ack()

        with kombu.Consumer(channel, [queue], on_message=relay):
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    pass


def oslo_relay(url, exchange, pool, prefetch, stop):
    import oslo_messaging
    from oslo_config import cfg

    from oslo_messaging import opts

    conf = cfg.ConfigOpts()
    for group, group_opts in opts.list_opts():
        conf.register_opts(group_opts, group=group)
    conf([], project='translator-bench')
    # The pool queue and exchange exist, durable; declare them alike.
    conf.set_override('amqp_durable_queues', True, 'oslo_messaging_rabbit')
    conf.set_override('rabbit_qos_prefetch_count', prefetch,
                      'oslo_messaging_rabbit')
    oslo_messaging.set_transport_defaults(control_exchange=exchange)
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    notifier = oslo_messaging.Notifier(
        transport, publisher_id='bench', driver='messagingv2',
        topics=['versioned_notifications'])

    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            notifier.info(ctxt, event_type, payload)

    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic='notifications',
                                          exchange=exchange)],
        [Endpoint()], executor='threading', pool=pool)
    listener.start()
    stop.wait()
    listener.stop()
    listener.wait()
    transport.cleanup()
