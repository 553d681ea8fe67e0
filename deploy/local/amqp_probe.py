"""A minimal AMQP 0-9-1 login probe, standard library only.

`stack.py` runs before any virtualenv exists, so it cannot use an AMQP client; yet a
port that accepts TCP is not proof that the services can work. This probe performs the
real connection handshake (PLAIN login, open the vhost, close) and so tells in
milliseconds whether a user may use a vhost, without a rabbitmqctl call (~1 s each).
"""

from __future__ import annotations

import socket
import struct

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
CONNECTION_START = (10, 10)
CONNECTION_START_OK = (10, 11)
CONNECTION_TUNE = (10, 30)
CONNECTION_TUNE_OK = (10, 31)
CONNECTION_OPEN = (10, 40)
CONNECTION_OPEN_OK = (10, 41)
CONNECTION_CLOSE = (10, 50)


def _shortstr(value: str) -> bytes:
    data = value.encode()
    return bytes([len(data)]) + data


def _longstr(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _table(fields: dict[str, bytes]) -> bytes:
    """A field table from already type-tagged values."""
    body = b"".join(_shortstr(key) + value for key, value in fields.items())
    return _longstr(body)


# Without this capability RabbitMQ answers a failed login by waiting ~3 s and dropping
# the socket; with it, an immediate Connection.Close carrying the reason.
CLIENT_PROPERTIES = _table(
    {
        "product": b"S" + _longstr(b"diko stack.py probe"),
        "capabilities": b"F" + _table({"authentication_failure_close": b"t\x01"}),
    }
)


def _method_frame(method: tuple[int, int], args: bytes) -> bytes:
    payload = struct.pack(">HH", *method) + args
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def _read_method(sock: socket.socket) -> tuple[tuple[int, int], bytes]:
    """The next method frame as ((class, method), arguments); heartbeat frames skipped."""
    while True:
        frame_type, _channel, size = struct.unpack(">BHI", _recv_exact(sock, 7))
        payload = _recv_exact(sock, size + 1)[:-1]
        if frame_type == 1:
            class_id, method_id = struct.unpack(">HH", payload[:4])
            return (class_id, method_id), payload[4:]


def _close_reason(args: bytes) -> str:
    """The reply text of a Connection.Close (reply-code, then a shortstr)."""
    if len(args) < 3:
        return "closed by the broker"
    return args[3 : 3 + args[2]].decode(errors="replace")


def amqp_login(
    port: int, user: str, password: str, vhost: str, host: str = "127.0.0.1", timeout: float = 5.0
) -> str | None:
    """Log in as `user` and open `vhost`: None on success, else the broker's reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(PROTOCOL_HEADER)
            method, _ = _read_method(sock)
            if method != CONNECTION_START:
                return f"unexpected first method {method} (not an AMQP 0-9-1 broker?)"
            response = b"\0" + user.encode() + b"\0" + password.encode()
            start_ok = CLIENT_PROPERTIES + _shortstr("PLAIN") + _longstr(response)
            sock.sendall(_method_frame(CONNECTION_START_OK, start_ok + _shortstr("en_US")))
            method, args = _read_method(sock)
            if method != CONNECTION_TUNE:
                return _close_reason(args) if method == CONNECTION_CLOSE else f"got {method}"
            channel_max, frame_max, _heartbeat = struct.unpack(">HIH", args[:8])
            tune_ok = struct.pack(">HIH", channel_max, frame_max, 0)
            sock.sendall(_method_frame(CONNECTION_TUNE_OK, tune_ok))
            sock.sendall(_method_frame(CONNECTION_OPEN, _shortstr(vhost) + _shortstr("") + b"\0"))
            method, args = _read_method(sock)
            if method != CONNECTION_OPEN_OK:
                return _close_reason(args) if method == CONNECTION_CLOSE else f"got {method}"
            close = struct.pack(">H", 200) + _shortstr("probe done") + struct.pack(">HH", 0, 0)
            sock.sendall(_method_frame(CONNECTION_CLOSE, close))
            return None
    except ConnectionError:
        return "the broker closed the connection during the handshake"
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc}"
