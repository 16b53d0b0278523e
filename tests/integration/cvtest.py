"""Helpers for integration tests: start the real cvoipd and real peers on
loopback, stop them, and check what they did. Every wait is bounded."""
import json
import math
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import wave

BIN = os.environ.get("CV_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.environ.get("CV_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))


def log(*a):
    print(*a, flush=True)


PORT_LO, PORT_HI = 61000, 65499  # above the kernel's ephemeral range
PORT_DIR = os.path.join(tempfile.gettempdir(), "cvoip-test-ports")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _claim(port, owner=None):
    """Claim a port for this process (or the process owner) across every
    test running in parallel: a directory per port (mkdir is atomic)
    holding the owner's pid; a claim whose owner is gone is taken over
    (rename is atomic, so only one taker wins). tests/transport/lib.sh
    claims through free_port with its shell's pid as the owner."""
    os.makedirs(PORT_DIR, exist_ok=True)
    d = os.path.join(PORT_DIR, str(port))
    for _ in range(2):
        try:
            os.mkdir(d)
        except FileExistsError:
            try:
                with open(os.path.join(d, "pid")) as f:
                    pid = int(f.read().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if not pid:
                try:  # a claim being written now, or a crashed writer
                    if time.time() - os.stat(d).st_mtime < 30:
                        return False
                except OSError:
                    pass
            elif _pid_alive(pid):
                return False
            try:
                gone = "%s.stale.%d.%d" % (d, os.getpid(), time.monotonic_ns())
                os.rename(d, gone)
                for name in os.listdir(gone):
                    os.unlink(os.path.join(gone, name))
                os.rmdir(gone)
            except OSError:
                return False
            continue
        with open(os.path.join(d, "pid"), "w") as f:
            f.write(str(owner or os.getpid()))
        return True
    return False


def free_port(kind=socket.SOCK_DGRAM, also_tcp=True, host="127.0.0.1", hosts=None,
              owner=None):
    """A port free for UDP and TCP on host (or on each of hosts), claimed
    for this process (or for the process owner).

    Not a port-0 probe: a number the kernel handed out and took back can be
    handed to a parallel test too, and cvoipd binds with SO_REUSEPORT. The
    ports come from above the ephemeral range (no socket bound to port 0
    gets one) and are claimed through _claim against the other tests."""
    for _ in range(500):
        port = random.randint(PORT_LO, PORT_HI)
        if not _claim(port, owner):
            continue
        ok = True
        for h in hosts or (host,):
            fam = socket.AF_INET6 if ":" in h else socket.AF_INET
            for k in (kind, socket.SOCK_STREAM) if also_tcp else (kind,):
                s = socket.socket(fam, k)
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
                finally:
                    s.close()
        if ok:
            return port
    raise RuntimeError("no free port in %d-%d" % (PORT_LO, PORT_HI))


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Cvoipd:
    """cvoipd with the demo configuration on its own ports and database."""

    def __init__(self, tmp, extra_args=(), config=None):
        self.tmp = tmp
        self.port = free_port()
        self.db = os.path.join(tmp, "cvoipd.db")
        self.logpath = os.path.join(tmp, "cvoipd.log")
        cfg = config or os.path.join(SRC, "etc/cvoipd.demo.yaml")
        self.args = [os.path.join(BIN, "cvoipd"), "--config", cfg,
                     "--listen", "udp:127.0.0.1:%d" % self.port,
                     "--listen", "tcp:127.0.0.1:%d" % self.port,
                     "--db", "sqlite:" + self.db, "--workers", "2",
                     "--log-level", "debug"] + list(extra_args)
        self.proc = None

    def start(self):
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT,
                                     cwd=self.tmp)
        wait_for(lambda: "ready:" in self.log() or self.proc.poll() is not None, 20,
                 "cvoipd ready")
        if self.proc.poll() is not None:
            raise AssertionError("cvoipd exited at start:\n" + self.log())
        return self

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def stop(self):
        """SIGTERM; a clean stop exits 0, reports no live objects and (under
        ASan) no leaks."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("cvoipd did not stop within 20 s")
        self.logf.close()
        text = self.log()
        if rc != 0:
            raise AssertionError("cvoipd exited %d:\n%s" % (rc, text[-4000:]))
        if "stopped cleanly: live_objects=0" not in text:
            raise AssertionError("cvoipd did not stop cleanly:\n" + text[-2000:])
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Baresip:
    """A baresip user agent registered to cvoipd, driven over ctrl_tcp."""

    def __init__(self, tmp, user, password, server_port, source_wav, answer=False):
        self.dir = os.path.join(tmp, "baresip-" + user)
        self.rec = os.path.join(self.dir, "rec")
        os.makedirs(self.rec)
        self.sip_port = free_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM, False)
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("""poll_method epoll
sip_listen 127.0.0.1:%d
sip_transports udp
net_interface 127.0.0.1
audio_player aufile,/dev/null
audio_source aufile,%s
audio_alert aufile,/dev/null
audio_srate 8000
audio_channels 1
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
snd_path %s
module account.so
module menu.so
module ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:%d
""" % (self.sip_port, source_wav, self.rec, self.ctrl_port))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write('<sip:%s@127.0.0.1>;auth_pass=%s;outbound="sip:127.0.0.1:%d";regint=600%s\n'
                    % (user, password, server_port, ";answermode=auto" if answer else ""))
        self.logpath = os.path.join(self.dir, "log")
        self.proc = None
        self.sock = None
        self.buf = b""
        self.events = []

    def start(self):
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(["baresip", "-s", "-f", self.dir], stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        def connect():
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                return True
            except OSError:
                return False
        wait_for(connect, 10, "baresip ctrl_tcp")
        self.sock.settimeout(0.1)
        return self

    def command(self, cmd, params=None):
        msg = {"command": cmd, "token": str(time.time())}
        if params:
            msg["params"] = params
        data = json.dumps(msg).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data + b",")

    def poll_events(self):
        try:
            chunk = self.sock.recv(65536)
            self.buf += chunk
        except socket.timeout:
            pass
        except OSError:
            return
        while b":" in self.buf:
            n, rest = self.buf.split(b":", 1)
            if not n.isdigit() or len(rest) < int(n) + 1:
                break
            body = rest[:int(n)]
            self.buf = rest[int(n) + 1:]
            try:
                self.events.append(json.loads(body))
            except ValueError:
                pass

    def wait_event(self, etype, timeout):
        end = time.time() + timeout
        while time.time() < end:
            self.poll_events()
            for e in self.events:
                if e.get("type") == etype:
                    return e
        raise AssertionError("baresip: no %s event within %ss; log:\n%s" % (etype, timeout, self.log()[-3000:]))

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def wait_registered(self, timeout):
        """Registration may finish before ctrl_tcp has a client, so the
        log line is the witness: `user@host: {0/UDP/v4} 200 OK () [1 binding]`."""
        wait_for(lambda: "200 OK () [" in self.log(), timeout,
                 "registration of " + self.dir)

    def stop(self):
        if self.sock:
            self.sock.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def recorded(self, suffix="dec"):
        files = sorted(f for f in os.listdir(self.rec) if f.endswith("-%s.wav" % suffix))
        return os.path.join(self.rec, files[-1]) if files else None


def make_tone(path, freq, seconds=6.0, rate=8000, amp=0.5):
    n = int(seconds * rate)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(amp * 32767 * math.sin(2 * math.pi * freq * i / rate)))
                               for i in range(n)))


def read_wav(path):
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        ch = w.getnchannels()
        raw = w.readframes(w.getnframes())
    s = struct.unpack("<%dh" % (len(raw) // 2), raw)
    if ch > 1:
        s = s[::ch]
    return rate, s


def goertzel_power(samples, rate, freq):
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
    return s1 * s1 + s2 * s2 - k * s1 * s2


def tone_ratio(path, freq, others=(300, 600, 1000, 1500)):
    """How much the recording is the expected tone: power at freq over the
    strongest of some other frequencies, on the loudest second."""
    rate, s = read_wav(path)
    if len(s) < rate:
        return 0.0, 0
    best = max(range(0, len(s) - rate + 1, rate // 2),
               key=lambda i: sum(abs(x) for x in s[i:i + rate]))
    win = s[best:best + rate]
    p = goertzel_power(win, rate, freq)
    q = max(goertzel_power(win, rate, f) for f in others) or 1e-9
    rms = math.sqrt(sum(x * x for x in win) / len(win))
    return p / q, rms


def run(test):
    """Run test(tmpdir) and print the plain summary line ctest shows."""
    tmp = tempfile.mkdtemp(prefix="cvoip-it-")
    try:
        test(tmp)
    except Exception as e:  # noqa: BLE001 - report every failure
        log("FAIL:", e)
        log("artifacts kept in", tmp)
        sys.exit(1)
    log("ok")
    sys.exit(0)
