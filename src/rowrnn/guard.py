"""What keeps `rowrnn serve` safe to leave running: who may talk to it, how long and how much.

    policy = Origins("127.0.0.1")                   # the address serve listens on
    app = Guard(starlette_app, policy)              # Host allow-list, same-origin API, headers, JSON errors
    protocol = http_protocol(Limits())              # uvicorn's h11 protocol with a header deadline and a connection cap

The threat model (the README's "Safe to leave running" section says it in prose):
- Other web pages in the user's browser. They may send "simple" cross-site requests (no CORS preflight) to
  127.0.0.1, and may rebind their own DNS name to 127.0.0.1 to read the answers. Defences: a Host allow-list
  (localhost and IP literals, which cannot be rebound: see Origins), the API only for the page's own origin
  (Origin / Sec-Fetch-Site), no CORS headers, and security headers on every answer (a strict CSP, no framing,
  nosniff, no referrer, resources same-origin only).
- Other processes on the machine, and careless clients (curl loops, a half-open socket, a huge photo): every
  resource is bounded -- connections, time to send the request head and body, bytes per upload, uploads
  in flight, decodes in flight -- and every answer, refusals included, is JSON {"error": one line}.
What it does not protect: a process that can already read the user's files, or anything once --host opens
the port to other machines without a password (serve warns).

Jupyter's server makes the same Host and Origin checks (jupyter_server's check_host and check_origin). Its
local_hostnames is an exact list of names, as --allow-host is (allowed_hosts), but listening beyond loopback turns
its Host check off (allow_remote_access); serve's stays on, the allowed names added one by one, never by pattern.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from . import errors

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                           "form-action 'self'; object-src 'none'")
SECURITY_HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(self), microphone=(), geolocation=()"),   # the page's camera button only
)
# headers of a refused or failed answer worth keeping when it is rewritten as JSON
KEPT_ON_ERROR = {b"allow", b"content-range", b"retry-after", b"connection", b"www-authenticate"}
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Limits:
    """Every resource a client can hold, bounded; serve's defaults, chosen for one user on a laptop.

    Memory: at most max_uploads bodies of max_upload_bytes are held at once (64 MB), and at most
    max_predictions decodes run at once, each within the image decoder's own memory budget.
    Time: a connection must send its request head within header_timeout seconds of opening (or of its first
    byte after an answer), and a request body within body_timeout seconds; an idle kept-alive connection is
    closed after keep_alive seconds. A request that finds every decode slot busy waits up to slot_wait
    seconds, then gets 503 with Retry-After.
    """

    max_upload_bytes: int = 8 * 2**20      # a phone photo fits
    max_uploads: int = 8                   # request bodies being received at once
    max_predictions: int = 2               # decodes + inferences at once (each is multi-threaded already)
    slot_wait: float = 2.0                 # seconds a prediction waits for a slot before 503
    max_connections: int = 64              # open connections; beyond, the oldest idle one is closed
    header_timeout: float = 10.0           # seconds to send the request line and headers
    body_timeout: float = 30.0             # seconds to send a body (8 MB at 280 KB/s)
    keep_alive: int = 5                    # seconds an idle connection stays open (uvicorn's timeout_keep_alive)
    max_header_bytes: int = 16 * 2**10     # request line + headers (h11's max_incomplete_event_size)
    backlog: int = 64                      # connections the kernel queues before accept
    graceful_shutdown: int = 1             # seconds running requests get after SIGINT/SIGTERM


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """text as one printable line (rowrnn.errors.one_line: a path may hold a newline) of at most limit characters."""
    return errors.one_line(text, limit)


def error_body(message: str) -> bytes:
    """The JSON body of an error answer: {"error": message as one line of at most MAX_ERROR_CHARS}."""
    return json.dumps({"error": one_line(message)}).encode()


def raw_answer(status: int, message: str, extra: tuple = ()) -> bytes:
    """A whole HTTP/1.1 answer, JSON and closing the connection, for the protocol layer (no app involved)."""
    body = error_body(message)
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close", "cache-control: no-store",
             *(f"{k}: {v}" for k, v in SECURITY_HEADERS), *(f"{k}: {v}" for k, v in extra)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _ip(name: str):
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return None
    return ip.ipv4_mapped or ip if ip.version == 6 else ip     # ::ffff:127.0.0.1 is loopback (Python < 3.13 says not)


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header -> (lower-case name or address, port or None); None when it is not one."""
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::([0-9]{1,5}))?", value.strip())
    if m is None:
        return None
    name = m.group(1).lower()
    if name.startswith("["):
        name = name[1:-1]
        if _ip(name) is None or "." not in name and ":" not in name:
            return None
    name = name[:-1] if name.endswith(".") else name
    return (name, int(m.group(2)) if m.group(2) else None) if name else None


_TRANSITIONAL = "\u00df\u03c2\u200c\u200d"        # ß, final sigma, ZWNJ, ZWJ: IDNA 2003 and browsers differ
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


def allowed_hosts(values, label: str = "--allow-host") -> tuple[str, ...]:
    """--allow-host's values (each one or several names, comma-separated) -> the names and addresses as a Host
    header carries them, in order, without repeats: lower case, no trailing dot, an international name in its
    xn-- form (as browsers send it), an address in its short form (IPv6 without brackets).

    No wildcards (`*.school.example` would let any machine of the domain, or a name someone there registers,
    rebind to this server), no ports (the port is --port's; the Host check never compares it), no URLs, no
    loopback names or addresses (always allowed, and never what another machine should be told to open).
    Raises RowrnnError naming `label` (the flag or argument), the value and the fix.
    """
    out: list[str] = []
    for value in values:
        for item in str(value).split(","):
            name = _allowed_host(item.strip(), str(value), label)
            if name not in out:
                out.append(name)
    return tuple(out)


def _allowed_host(item: str, value: str, label: str = "--allow-host") -> str:
    """One name or address of --allow-host (see allowed_hosts)."""
    def refuse(why: str):
        return errors.RowrnnError(f"{label} {value!r}: {why}")
    example = "give names such as lab-pc.school.example or addresses such as 192.168.1.20, comma-separated"
    if not item:
        raise refuse(f"an empty name (a comma too many?): {example}")
    if "/" in item or "@" in item:
        raise refuse("give the name alone, without http://, a path or a user (e.g. --allow-host lab-pc.school.example)")
    if "*" in item:
        raise refuse("wildcards are not accepted (any machine under them, or a name someone registers there, could "
                     "reach the page): name each name, comma-separated")
    bracketed = item.startswith("[") and item.endswith("]")
    text = item[1:-1] if bracketed else item
    if "%" in text:
        raise refuse("an address with a zone (%...) opens in no browser: give a global address or a name")
    ip = _ip(text)
    if ip is None and (bracketed or re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]+):[0-9]+", item)):
        if bracketed:
            raise refuse("brackets hold an IPv6 address only: give a name without them")
        raise refuse("a port is not part of a name: give the name or address alone (the port is --port's)")
    if ip is not None:
        if ip.is_unspecified:
            raise refuse(f"{ip} is not an address a browser can open: give this machine's address on the network")
        if ip.is_loopback:
            raise refuse(f"{ip} is a loopback address, always allowed: --allow-host names what other machines open")
        return str(ip)
    if any(ch in _TRANSITIONAL for ch in text):
        raise refuse("write this name as the browser's address bar shows it (its xn-- form)")
    try:
        name = text.encode("idna").decode("ascii").lower() if not text.isascii() else text.lower()
    except UnicodeError:
        raise refuse(f"not a host name: {example}") from None
    name = name[:-1] if name.endswith(".") else name
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise refuse(f"not a host name (letters, digits, hyphens and dots): {example}")
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]):      # a browser reads 192.168.1 or 010.0.0.1 as an address
        raise refuse("neither a name nor an address (a name does not end in a number; an address is four numbers "
                     "from 0 to 255, e.g. 192.168.1.20)")
    if name == "localhost" or name.endswith(".localhost"):
        raise refuse("localhost is always allowed: --allow-host names what other machines open")
    return name


def url_of(name: str, port: int | str) -> str:
    """http://name:port/, with an IPv6 address in brackets."""
    return f"http://[{name}]:{port}/" if ":" in name else f"http://{name}:{port}/"


class Origins:
    """Which Host names and Origins are this server's own, from the address it listens on and the names allowed.

    Host: always `localhost` and loopback addresses (127.0.0.0/8, ::1), and the names and addresses given in
    `allowed` (rowrnn.guard.allowed_hosts's form: `rowrnn serve --allow-host`, for a classroom). When listening
    beyond loopback (--host 0.0.0.0, ::, or an interface's address), also any IP literal -- a DNS-rebinding page
    always reaches the server under a name it controls, never under an address -- this machine's own names
    (socket.gethostname(), socket.getfqdn()) and --host itself when it is a name. Any other name is refused: open
    the page by address, or allow the name. Names are compared whole (lab-pc.school.example allows neither
    www.lab-pc.school.example nor lab-pc), in any case, with or without the trailing dot.
    The port is not compared: an ssh tunnel (ssh -L 9000:localhost:8000) changes it, and a rebinding page
    must use the real port anyway.
    Origin: a browser request to /api/ must come from the page itself: Origin, when sent, equal to
    http://<Host>; Sec-Fetch-Site, when sent, same-origin or none. A request with neither is not from a
    browser page (curl, scripts) and is allowed -- it could do whatever it sends anyway.
    """

    def __init__(self, host: str, allowed: tuple[str, ...] = ()):
        ip = _ip(host.strip("[]"))
        self.local_only = ip.is_loopback if ip is not None else host.lower() == "localhost"
        self.names = {"localhost", *(n for n in allowed if _ip(n) is None)}
        self.addresses = {_ip(n) for n in allowed if _ip(n) is not None}
        # what another machine is told to open: the allowed names, then --host when it is one address or name
        self.advertised = tuple(allowed)
        if not self.local_only:
            self.names |= {n.lower().rstrip(".") for n in (socket.gethostname(), socket.getfqdn()) if n}
            specific = host.strip("[]").lower().rstrip(".")
            if ip is None:
                self.names.add(specific)
            if not (ip is not None and ip.is_unspecified) and specific not in self.advertised:
                self.advertised += (str(ip) if ip is not None else specific,)

    def urls(self, port: int | str, addresses=()) -> list[str]:
        """The addresses another machine may open the page at: the advertised names, then `addresses` (this
        machine's, as found) when IP literals are accepted; never a loopback one."""
        shown = list(self.advertised)
        if not self.local_only:
            for address in addresses:
                ip = _ip(str(address))
                # an IPv6 link-local address needs a zone (%eth0), which no browser takes in a URL
                unusable = (ip is None or ip.is_loopback or ip.is_unspecified
                            or (ip.version == 6 and (ip.is_link_local or ip.scope_id is not None)))
                if not unusable and str(ip) not in shown:
                    shown.append(str(ip))
        return [url_of(name, port) for name in shown]

    def host_refusal(self, host: str | None, port: int | str = "PORT", client: str | None = None,
                     arrived_at: str | None = None) -> str | None:
        """Why a Host header is refused, or None when it names this server (port: the one served on).

        The refusal says the real way in, for whoever asks: a client on this machine (client a loopback address)
        is told http://127.0.0.1:PORT/; any other client (or an unknown one) the allowed names and the address
        its connection arrived at (arrived_at, when IP literals are accepted), or, with none, to ask for
        --allow-host -- never 127.0.0.1, which on its machine is itself."""
        if host is None:
            return None                                 # HTTP/1.0 without Host: not a browser
        parsed = split_host(host)
        if parsed is not None:
            ip = _ip(parsed[0])
            if ip is not None:
                if ip.is_loopback or not self.local_only or ip in self.addresses:
                    return None
            elif parsed[0] in self.names:
                return None
        shown = host if len(host) <= 80 else host[:77] + "..."
        refused = f"Host {shown!r} is not this server's name (a DNS-rebinding page?): "
        client_ip = _ip(client) if client else None
        if client_ip is not None and client_ip.is_loopback:
            return refused + f"open the page at http://127.0.0.1:{port}/ or http://localhost:{port}/"
        urls = self.urls(port, [arrived_at] if arrived_at else [])[:4]
        try:
            name = _allowed_host(parsed[0], parsed[0]) if parsed is not None and _ip(parsed[0]) is None else "NAME"
        except errors.RowrnnError:
            name = "NAME"
        ask = ("ask whoever started rowrnn serve to " +
               (f"start it with --host 0.0.0.0 --allow-host {name}" if self.local_only else f"add --allow-host {name}"))
        if not urls:
            return refused + ask
        return refused + f"open the page at {' or '.join(urls)}" + ("" if self.has_names else f", or {ask}")

    @property
    def has_names(self) -> bool:
        """Whether another machine is told a name (not only addresses) to open the page at."""
        return any(_ip(name) is None for name in self.advertised)

    @staticmethod
    def origin_refusal(host: str | None, origin: str | None, fetch_site: str | None) -> str | None:
        """Why a request to the API is refused as cross-origin, or None when it comes from the page itself."""
        refused = ("cross-origin request refused: rowrnn serve answers its API only to its own page "
                   "(or to a client that is not a browser page)")
        if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
            return refused
        if origin is None:
            return None
        if host is None:
            return refused
        try:
            parts = urlsplit(origin.strip())
            origin_host = split_host(parts.netloc) if parts.scheme == "http" and not parts.path else None
        except ValueError:
            origin_host = None
        own = split_host(host)
        if origin_host is None or own is None or (origin_host[0], origin_host[1] or 80) != (own[0], own[1] or 80):
            return refused
        return None


def _header(headers, name: bytes) -> str | None:
    """The value of a request header, None when absent; a repeated Host/Origin is treated as a bad value."""
    values = [v for k, v in headers if k.lower() == name]
    if not values:
        return None
    return values[0].decode("latin-1") if len(values) == 1 else "(sent twice)"


class Guard:
    """ASGI middleware around the whole app: refuses foreign Hosts (every path) and cross-origin API requests,
    adds the security headers to every answer, and rewrites any error answer that is not JSON (Starlette's
    static files answer a bad Range in plain text) as {"error": one line}."""

    def __init__(self, app, origins: Origins):
        self.app = app
        self.origins = origins

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, headers = scope["path"], scope["headers"]
        host = _header(headers, b"host")
        cache = "no-cache" if path.startswith("/static/") else "no-store"
        send = _SecuredSend(send, cache, head=scope["method"] == "HEAD", path=path)
        server = scope.get("server") or (None, None)
        client = scope.get("client") or (None, None)
        refusal = self.origins.host_refusal(host, server[1] or "PORT", client=client[0], arrived_at=server[0])
        if refusal is None and path.startswith("/api/"):
            refusal = self.origins.origin_refusal(host, _header(headers, b"origin"),
                                                  _header(headers, b"sec-fetch-site"))
        if refusal is not None:
            body = error_body(refusal)
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:          # a stop cut the request short: still one JSON line, not uvicorn's text
            if not send.started:
                body = error_body("rowrnn serve is stopping: start it again")
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
            raise


class _SecuredSend:
    """Wraps an ASGI send: security headers on every answer; non-JSON error answers rewritten as JSON."""

    def __init__(self, send, cache: str, head: bool, path: str):
        self.send, self.cache, self.head, self.path = send, cache, head, path
        self.rewrite = None            # (status, kept headers) while a non-JSON error body is collected
        self.body = b""
        self.started = False

    def _secured(self, headers: list) -> list:
        present = {k.lower() for k, _ in headers}
        extra = [(k.encode(), v.encode()) for k, v in (*SECURITY_HEADERS, ("cache-control", self.cache))
                 if k.encode() not in present]
        return [*headers, *extra]

    async def __call__(self, message):
        self.started = True
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if message["status"] >= 400 and not kind.lower().startswith(b"application/json"):
                self.rewrite = (message["status"], [(k, v) for k, v in headers if k.lower() in KEPT_ON_ERROR])
                return
            await self.send({**message, "headers": self._secured(headers)})
            return
        if message["type"] == "http.response.body" and self.rewrite is not None:
            self.body += message.get("body", b"")[:4096]
            if message.get("more_body", False):
                return
            status, kept = self.rewrite
            body = error_body(_error_text(status, self.body.decode("utf-8", "replace").strip(), kept, self.path))
            headers = [*kept, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await self.send({"type": "http.response.start", "status": status, "headers": self._secured(headers)})
            await self.send({"type": "http.response.body", "body": b"" if self.head else body})
            return
        await self.send(message)


def _error_text(status: int, text: str, headers: list, path: str) -> str:
    """One line for an error answer some other layer wrote in plain text."""
    get = dict((k.lower(), v.decode("latin-1")) for k, v in headers).get
    if status == 416:
        return (f"the Range header asks for bytes beyond the file ({get(b'content-range', 'bytes */?')}): "
                "ask within its size or drop Range")
    if status == 405:
        return f"method not allowed on {path}: use {get(b'allow', 'GET')}"
    if status == 404:
        return f"not found: {path}"
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    return f"{phrase.lower()}: {text}" if text and text.lower() != phrase.lower() else phrase.lower()


_HEAD_END = re.compile(rb"\n\r?\n")      # the blank line that ends a request head, as h11 finds it


def http_protocol(limits: Limits):
    """uvicorn's h11 protocol with what it lacks: a deadline for the request head (from the connection's
    opening, or from the first byte of a kept-alive connection's next request), a cap on open connections
    (the oldest one that is not in the middle of a request makes room; if none, the new one gets 503), every
    request head bounded to max_header_bytes however it arrives (whole, or pipelined behind another), no
    unread request body left trickling after an answer, and JSON for its own 400."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Connection(h11.Connection):
        """h11's server connection, measuring every request head before parsing it. h11's
        max_incomplete_event_size bounds a head only while it is incomplete: one that arrived whole was parsed
        whatever its size -- in one read, or pipelined behind another request and parsed from h11's buffer when
        that one's answer completes (uvicorn's on_response_complete, which never passes data_received). Every
        head is parsed here, from the idle state, so every one is measured: it must end (h11's own rule: LF,
        optional CR, LF) within max_header_bytes of the buffer's start. Over it, h11's RemoteProtocolError, which
        uvicorn answers with send_400_response (JSON below) and a close."""

        def next_event(self):
            if self.their_state is h11.IDLE:
                buffered = self.trailing_data[0]
                if (len(buffered) > limits.max_header_bytes
                        and _HEAD_END.search(buffered, 0, limits.max_header_bytes) is None):
                    raise h11.RemoteProtocolError(f"request head over {limits.max_header_bytes} bytes")
            return super().next_event()

    class Protocol(H11Protocol):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.conn = Connection(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)

        def connection_made(self, transport):
            self._deadline, self._partial, self._opened = None, False, time.monotonic()
            crowded = len(self.connections) >= limits.max_connections
            victim = None
            if crowded:
                idle = [c for c in self.connections if c.cycle is None or c.cycle.response_complete]
                victim = min(idle, key=lambda c: getattr(c, "_opened", 0.0), default=None)
            super().connection_made(transport)
            if crowded and victim is None:
                transport.write(raw_answer(503, f"over {limits.max_connections} open connections: try again "
                                                "in a moment", extra=(("retry-after", "1"),)))
                self._close()
                return
            if victim is not None:
                victim._close()
            self._arm()

        def _close(self):
            # out of the count now: the transport closes its socket only on the loop's next turn, and the
            # connections accepted in this turn must not pick the same victim again
            self.connections.discard(self)
            self._disarm()
            self.transport.close()

        def _arm(self):
            if self._deadline is None:
                self._deadline = self.loop.call_later(limits.header_timeout, self._head_too_slow)

        def _disarm(self):
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _head_too_slow(self):
            self._deadline = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self._partial:       # a connection that never sent a byte is closed silently, as nginx does
                self.transport.write(raw_answer(408, f"the request's head took over {limits.header_timeout:g} s: "
                                                     "send it at once"))
            self._close()

        def data_received(self, data):
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self.conn.their_state is h11.IDLE:      # still waiting for a request head
                self._partial = True
                self._arm()
            else:
                self._partial = False
                self._disarm()

        def on_response_complete(self):
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.SEND_BODY:
                self.transport.close()                 # a body nobody reads may not trickle in forever

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str):
            self.transport.write(raw_answer(400, "not a valid HTTP/1.1 request (or its head is over "
                                                 f"{limits.max_header_bytes // 1024} KB)"))
            self.transport.close()

    return Protocol
