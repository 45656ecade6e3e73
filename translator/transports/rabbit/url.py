"""RabbitMQ transport URLs, as oslo.messaging reads them."""

import oslo_messaging
from oslo_config import cfg

from translator import secrets
from translator import transports


def parse(url):
    """The oslo.messaging TransportURL of a rabbit:// (or amqp://) URL;
    transports.BadURL saying what is wrong with it."""
    try:
        parsed = oslo_messaging.TransportURL.parse(cfg.CONF, url)
    except Exception as exc:  # oslo raises several kinds for one mistake
        raise transports.BadURL('invalid transport URL %s: %s'
                                % (secrets.mask_url(url), exc)) from None
    if not parsed.hosts:
        raise transports.BadURL('no host in transport URL %s'
                                % secrets.mask_url(url))
    return parsed


def same_bus(url_a, url_b):
    """Whether two URLs reach the same broker and virtual host."""
    a, b = parse(url_a), parse(url_b)
    return (a.virtual_host or '/') == (b.virtual_host or '/') and {
        (h.hostname, h.port or 5672) for h in a.hosts} & {
        (h.hostname, h.port or 5672) for h in b.hosts} != set()
