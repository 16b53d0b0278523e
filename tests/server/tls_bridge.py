"""TLS <-> TCP byte relays on loopback, for peers that cannot speak TLS
themselves: Debian's SIPp is built without OpenSSL ("To use a TLS
transport you must compile SIPp with OpenSSL"), so a test puts one of these
between SIPp (plain TCP) and cvoipd (TLS). The bytes pass through
unchanged; cvoipd sees a real TLS connection (handshake, certificate
verification as configured). One thread per connection pair, so no SSL
object is used by two threads; every wait is bounded."""
import select
import socket
import ssl
import threading


class _Relay:
    def __init__(self):
        self.stopping = False
        self.conns = 0
        self.errors = []
        self.bytes_in = 0   # from the plain side into the TLS side
        self.bytes_out = 0  # back
        self.lock = threading.Lock()
        self.threads = []

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def _pump(self, a, b):
        """Relay between a (counted as 'in') and b until either closes."""
        with self.lock:
            self.conns += 1
        peer = {a: b, b: a}
        while not self.stopping:
            ready = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
            if not ready:
                ready, _, _ = select.select([a, b], [], [], 0.2)
            for s in ready:
                # non-blocking read: a TLS record without application data
                # (a TLS 1.3 session ticket) makes the socket readable but
                # yields nothing
                s.settimeout(0)
                try:
                    data = s.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                finally:
                    s.settimeout(5)
                if not data:
                    return
                peer[s].sendall(data)
                with self.lock:
                    if s is a:
                        self.bytes_in += len(data)
                    else:
                        self.bytes_out += len(data)

    def _guard(self, fn, *socks):
        try:
            fn()
        except (OSError, ssl.SSLError, AssertionError) as e:
            if not self.stopping:
                self.errors.append(repr(e))
        finally:
            for s in socks:
                if s[0] is not None:
                    try:
                        s[0].close()
                    except OSError:
                        pass

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(timeout=3)


class Bridge(_Relay):
    """Accepts plain TCP on 127.0.0.1:listen_port and, for each connection,
    opens TLS to 127.0.0.1:to_port, verified with client_ctx."""

    def __init__(self, listen_port, to_port, client_ctx, server_hostname="127.0.0.1"):
        super().__init__()
        self.to_port = to_port
        self.client_ctx = client_ctx
        self.server_hostname = server_hostname
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self._spawn(self._accept)

    def _accept(self):
        while not self.stopping:
            try:
                a, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._spawn(self._pair, a)

    def _pair(self, a):
        box = [a], [None]

        def go():
            a.settimeout(5)
            b = socket.create_connection(("127.0.0.1", self.to_port), timeout=5)
            box[1][0] = b
            b = self.client_ctx.wrap_socket(b, server_hostname=self.server_hostname)
            box[1][0] = b
            self._pump(a, b)
        self._guard(go, *box)

    def stop(self):
        self.stopping = True
        self.lsock.close()
        super().stop()


class Flow(_Relay):
    """One TLS connection opened to 127.0.0.1:tls_port (verified with
    client_ctx), on which preamble(sock) runs first (a REGISTER, say), and
    which is then relayed to a plain TCP connection to 127.0.0.1:to_port:
    the peer there answers what arrives on the flow."""

    def __init__(self, tls_port, client_ctx, preamble, to_port, server_hostname="127.0.0.1"):
        super().__init__()
        self.ready = threading.Event()
        box = [None], [None]

        def go():
            b = socket.create_connection(("127.0.0.1", tls_port), timeout=5)
            box[1][0] = b
            b = client_ctx.wrap_socket(b, server_hostname=server_hostname)
            box[1][0] = b
            self.local = b.getsockname()
            preamble(b)
            a = socket.create_connection(("127.0.0.1", to_port), timeout=5)
            box[0][0] = a
            self.ready.set()
            self._pump(a, b)
        self._spawn(self._guard, go, *box)


class Server(_Relay):
    """A TLS server on 127.0.0.1:listen_port (server_ctx: the test
    certificate) in front of a plain TCP peer at 127.0.0.1:to_port (SIPp
    `-t t1`): each TLS connection accepted is relayed to a TCP connection
    of its own. Handshakes that fail (the client refused our certificate)
    are counted in `handshake_failures`."""

    def __init__(self, listen_port, to_port, server_ctx):
        super().__init__()
        self.to_port = to_port
        self.server_ctx = server_ctx
        self.handshakes = 0
        self.handshake_failures = 0
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self._spawn(self._accept)

    def _accept(self):
        while not self.stopping:
            try:
                a, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._spawn(self._pair, a)

    def _pair(self, raw):
        box = [raw], [None]

        def go():
            raw.settimeout(5)
            try:
                a = self.server_ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                with self.lock:
                    self.handshake_failures += 1
                return
            box[0][0] = a
            with self.lock:
                self.handshakes += 1
            b = socket.create_connection(("127.0.0.1", self.to_port), timeout=5)
            box[1][0] = b
            self._pump(a, b)
        self._guard(go, *box)

    def stop(self):
        self.stopping = True
        self.lsock.close()
        super().stop()
