"""AMQP 0-9-1 frames the relay reads and writes itself, and the batching
of its socket reads and writes: on py-amqp's path each message cost
several system calls and a Python object per field.
"""

import contextlib
import socket
import struct

from amqp import method_framing


class BatchedWrites:
    """Frames held while a batch is published, then sent in one write.

    One system call per message costs the relay and, more, the broker,
    which then reads many small packets. Used as py-amqp's transport by its
    frame writer; anything waiting for a reply must ``flush`` first.
    """

    def __init__(self):
        self._transport = None
        self._held = None

    def frame_writer(self, connection, transport):
        self._transport = transport
        return method_framing.frame_writer(connection, self)

    def write(self, data):
        if self._held is None:
            self._transport.write(data)
        else:
            self._held.append(bytes(data))  # data is py-amqp's reused buffer

    def hold(self):
        self._held = []

    def flush(self):
        """Send what is held; whether writes were being held."""
        held, self._held = self._held, None
        if held:
            self._transport.write(b''.join(held))
        return held is not None

    @contextlib.contextmanager
    def paused(self):
        """Send what is held and write through, for calls that wait for
        a reply; hold again afterwards if writes were being held."""
        holding = self.flush()
        try:
            yield
        finally:
            if holding:
                self.hold()


def _shortstr(text):
    data = text.encode()
    return bytes((len(data),)) + data


#: basic.publish with the reserved ticket; then exchange, routing key and
#: the mandatory bit.
_PUBLISH = struct.pack('>HHH', 60, 40, 0)
#: The app_id property, and what the relay puts there: its outputs are
#: known as its own when they come back to it (a versioned notification
#: published where services' versioned ones are read).
_APP_ID = 0x0008
APP_ID = 'translator'
#: The properties of the relay's outputs, in the order AMQP writes them:
#: content type, content encoding, delivery mode (persistent), and the
#: correlation id that follows them.
_PROPERTY_FLAGS = 0x8000 | 0x4000 | 0x1000 | 0x0400 | _APP_ID
_PROPERTIES = (_shortstr('application/json') + _shortstr('utf-8') +
               bytes((2,)))


_OWN = _shortstr(APP_ID)
#: The sizes of the properties before app_id, in their order: a short
#: string (-1), a table (-4, a long size first) or so many bytes.
_BEFORE_APP_ID = ((0x8000, -1), (0x4000, -1), (0x2000, -4), (0x1000, 1),
                  (0x0800, 1), (0x0400, -1), (0x0200, -1), (0x0100, -1),
                  (0x0080, -1), (0x0040, 8), (0x0020, -1), (0x0010, -1))


def app_id_is_ours(header):
    """Whether a content header frame's app_id is the relay's: read only
    when the property is there at all, which services' messages lack."""
    flags = struct.unpack_from('>H', header, 12)[0]
    if not flags & _APP_ID:
        return False
    at = 14
    for flag, size in _BEFORE_APP_ID:
        if flags & flag:
            if size == -1:
                at += 1 + header[at]
            elif size == -4:
                at += 4 + struct.unpack_from('>I', header, at)[0]
            else:
                at += size
    return bytes(header[at + 1:at + 1 + header[at]]) == APP_ID.encode()


class Publisher:
    """The frames of basic.publish, built here for the relay's outputs.

    py-amqp builds them field by field, some 20 us a message on this
    project's machine, a sixth of the relay's time: here a place's method
    frame is made once and a message takes two struct.pack calls. The
    bytes are py-amqp's own (a test holds them equal). Messages with
    headers (dead letters) go through py-amqp, which encodes the table.
    """

    def __init__(self, channel, write):
        self._connection = channel.connection
        self._channel = channel.channel_id
        self._write = write
        self._methods = {}  # (exchange, routing key) -> method frame

    def _method(self, exchange, routing_key):
        payload = (_PUBLISH + _shortstr(exchange) + _shortstr(routing_key)
                   + b'\x01')
        frame = (struct.pack('>BHI', 1, self._channel, len(payload)) +
                 payload + b'\xce')
        self._methods[(exchange, routing_key)] = frame
        return frame

    def publish(self, body, exchange, routing_key, correlation_id):
        """Mandatory, persistent, JSON in UTF-8."""
        method = (self._methods.get((exchange, routing_key)) or
                  self._method(exchange, routing_key))
        channel = self._channel
        header = struct.pack('>HHQH', 60, 0, len(body), _PROPERTY_FLAGS) + \
            _PROPERTIES + _shortstr(correlation_id) + _OWN
        frames = [method, struct.pack('>BHI', 2, channel, len(header)),
                  header, b'\xce']
        chunk = self._connection.frame_max - 8
        for start in range(0, len(body), chunk):
            part = body[start:start + chunk]
            frames += [struct.pack('>BHI', 3, channel, len(part)), part,
                       b'\xce']
        self._write(b''.join(frames))
        self._connection.bytes_sent += 1  # heartbeats count writes


_DELIVER = struct.pack('>HH', 60, 60)


class Deliveries:
    """basic.deliver on one channel, read here: py-amqp makes a Message of
    each (properties parsed, the body decoded to text), a sixth of the
    relay's time on this project's machine; the relay needs the delivery
    tag, exchange, routing key and body bytes.

    Installed in place of the connection's frame handler, so that the
    deliveries read while py-amqp waits for a reply are taken here too;
    every other frame goes on to py-amqp. ``on_delivery(tag, exchange,
    routing_key, body, redelivered, own)``: ``own`` when its app_id says
    the relay published it.
    """

    def __init__(self, channel, on_delivery):
        self._connection = connection = channel.connection
        self._channel = channel.channel_id
        self._on_delivery = on_delivery
        self._py_amqp = connection.on_inbound_frame
        # (tag, exchange, routing key, redelivered, own), body parts
        self._pending = None
        self._left = 0  # body bytes still to come
        connection.on_inbound_frame = self._frame

    def _frame(self, frame):
        kind, channel, payload = frame
        if channel != self._channel or not (
                self._pending is not None or (
                    kind == 1 and payload[:4] == _DELIVER)):
            return self._py_amqp(frame)
        self._connection.bytes_recv += 1  # heartbeats count reads
        if kind == 1:
            # consumer tag, delivery tag, redelivered, exchange, key
            at = 5 + payload[4]
            tag = struct.unpack_from('>Q', payload, at)[0]
            redelivered = bool(payload[at + 8] & 1)
            at += 9
            exchange = bytes(payload[at + 1:at + 1 + payload[at]]).decode()
            at += 1 + payload[at]
            key = bytes(payload[at + 1:at + 1 + payload[at]]).decode()
            self._pending = ([tag, exchange, key, redelivered, False], [])
        elif kind == 2:
            self._left = struct.unpack_from('>Q', payload, 4)[0]
            self._pending[0][4] = app_id_is_ours(payload)
        else:
            self._pending[1].append(bytes(payload))
            self._left -= len(payload)
        if kind != 1 and not self._left:
            (tag, exchange, key, redelivered, own), parts = self._pending
            self._pending = None
            self._on_delivery(tag, exchange, key, b''.join(parts)
                              if len(parts) != 1 else parts[0], redelivered,
                              own)
        return True


class ChunkedReads:
    """Socket reads of up to 64 KiB, handed to py-amqp a piece at a time.

    py-amqp reads a frame in three recv() calls of exactly the size it
    needs (header, payload, end byte), nine system calls per delivered
    message; this reads what the socket holds at once and serves those
    calls from memory. Data it holds is invisible to select(): ``drain``
    empties it, and after a call that waits for a reply ``buffered`` says
    whether deliveries arrived with that reply.
    """

    def __init__(self, transport, size=65536):
        self._recv = transport.sock.recv
        self._size = size
        self._data = b''
        self._offset = 0
        transport._quick_recv = self.recv

    def recv(self, size):
        if self._offset >= len(self._data):
            data = self._recv(max(size, self._size))
            if len(data) <= size:
                return data
            self._data, self._offset = data, 0
        start = self._offset
        self._offset = start + size
        return self._data[start:self._offset]

    def buffered(self):
        return self._offset < len(self._data)


def drain(conn):
    """Handle every frame the connection has ready, without blocking.

    One switch to non-blocking mode for all of them: drain_events(0) costs
    two fcntl() calls per frame.
    """
    transport = conn.transport
    with transport.having_timeout(0):
        while True:
            try:
                frame = transport.read_frame()
            except socket.timeout:
                return
            conn.on_inbound_frame(frame)
