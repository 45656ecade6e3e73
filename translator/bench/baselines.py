"""The relays the translator is measured against, each run in a process
of its own by the relay benchmark.

- ``pyamqp_loop``: a bare py-amqp consume-and-republish loop that keeps
  the relay's promise: publisher confirms, each source message acknowledged
  once its copy is confirmed, pipelined (acknowledgements in bulk, no
  round trip per message): the relay's target.
- ``kombu_loop``: a bare kombu consume-and-republish loop without
  publisher confirms: the ceiling of what a Python relay can move.
- ``oslo_relay``: what an operator writes with oslo.messaging alone, a
  notification listener whose endpoint republishes with a Notifier.

Both read the benchmark's pool queue and write each message unchanged to
``<topic>.<priority>`` on the same exchange, so the benchmark counts their
output exactly as the translator's.
"""


def pyamqp_loop(endpoint, exchange, pool, topic, prefetch, stop):
    import collections
    import select
    import socket

    import amqp

    from translator.transports.rabbit import connection
    source = connection.connect(endpoint, 0, 'bench-pyamqp-source')
    target = connection.connect(endpoint, 0, 'bench-pyamqp-target')
    consumer, publisher = source.channel(), target.channel()
    consumer.basic_qos(0, prefetch, False)
    publisher.confirm_select()
    sent = collections.deque()  # (publish sequence number, source tag)
    confirmed = [0]
    seq = [0]

    def on_confirm(number, multiple):
        confirmed[0] = max(confirmed[0], number)

    def relay(message):
        publisher.basic_publish(
            amqp.Message(message.body, content_type='application/json',
                         content_encoding='utf-8', delivery_mode=2),
            exchange=exchange, routing_key=topic + '.info')
        seq[0] += 1
        sent.append((seq[0], message.delivery_tag))

    publisher.events['basic_ack'].add(on_confirm)
    consumer.basic_consume(pool, callback=relay)
    while not stop.is_set():
        readable, _, _ = select.select([source.sock, target.sock], [], [],
                                       0.5)
        for conn in (source, target):
            if conn.sock in readable:
                try:
                    while True:
                        conn.drain_events(timeout=0)
                except socket.timeout:
                    pass
        last = None
        while sent and sent[0][0] <= confirmed[0]:
            last = sent.popleft()[1]
        if last is not None:
            consumer.basic_ack(last, multiple=True)
    source.close()
    target.close()


def kombu_loop(endpoint, exchange, pool, topic, prefetch, stop):
    import kombu

    from translator.transports.rabbit import connection
    from translator.transports.rabbit import url as urls
    url = endpoint.url
    # kombu hands these to py-amqp as the relay does
    sslopts = connection.sslopts(endpoint.options,
                                 urls.parse(url).hosts[0].hostname)
    # kombu names the transport oslo.messaging calls rabbit:// amqp://.
    url = 'amqp://' + url.partition('://')[2]
    # Publishing on the consuming connection would recurse: py-amqp reads
    # pending frames, deliveries included, before each publish.
    with kombu.Connection(url, ssl=sslopts) as conn, \
            kombu.Connection(url, ssl=sslopts) as out:
        channel = conn.channel()
        channel.basic_qos(0, prefetch, False)
        producer = kombu.Producer(out.channel())
        queue = kombu.Queue(pool, kombu.Exchange(exchange, 'topic',
                                                 durable=True),
                            'notifications.*', durable=True,
                            auto_delete=False, channel=channel)

        def relay(message):
            producer.publish(message.body, exchange=exchange,
                             routing_key=topic + '.info',
                             content_type='application/json',
                             content_encoding='utf-8')
            message.ack()

        with kombu.Consumer(channel, [queue], on_message=relay):
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    pass


def oslo_relay(endpoint, exchange, pool, topic, prefetch, stop):
    import oslo_messaging
    from oslo_config import cfg

    import tempfile

    # The pool queue and exchange exist, durable: the listener must declare
    # them alike. A connection for each of the executor's 64 threads, as
    # oslo's warnings ask at the default 30 (and a little faster). The
    # driver registers these options when it loads, so they come from a
    # file rather than overrides. The TLS options have the relay's names;
    # ssl_version is left out, as oslo.messaging pins the version it names.
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf_file:
        conf_file.write('[oslo_messaging_rabbit]\namqp_durable_queues = true'
                        '\nrabbit_qos_prefetch_count = %d'
                        '\nrpc_conn_pool_size = 64\n%s' % (
                            prefetch, endpoint.options.config_lines(
                                'ssl', 'ssl_ca_file', 'ssl_cert_file',
                                'ssl_key_file')))
        conf_file.flush()
        conf = cfg.ConfigOpts()
        conf(['--config-file', conf_file.name], project='translator-bench')
    oslo_messaging.set_transport_defaults(control_exchange=exchange)
    transport = oslo_messaging.get_notification_transport(
        conf, url=endpoint.url)
    notifier = oslo_messaging.Notifier(
        transport, publisher_id='bench', driver='messagingv2',
        topics=[topic])

    def republisher(priority):
        send = getattr(notifier, priority)

        def republish(self, ctxt, publisher_id, event_type, payload,
                      metadata):
            send(ctxt, event_type, payload)
        return republish

    # The dispatcher drops what no method of its priority takes.
    Endpoint = type('Endpoint', (), {
        p: republisher(p) for p in ('audit', 'debug', 'info', 'warn',
                                    'error', 'critical', 'sample')})

    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic='notifications',
                                          exchange=exchange)],
        [Endpoint()], executor='threading', pool=pool)
    listener.start()
    stop.wait()
    listener.stop()
    listener.wait()
    transport.cleanup()
