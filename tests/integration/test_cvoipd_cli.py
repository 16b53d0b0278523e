#!/usr/bin/env python3
"""cvoipd's command line and start-up failures: --help/--version, unknown
options (2), --check-config verdicts with file:line, a missing config, an
unwritable database folder and a port in use (one line, exit 1), a clean
SIGTERM stop with nothing leaked, and `cvoipd user add/list/del`."""
import os
import socket
import subprocess

from cvtest import BIN, SRC, Cvoipd, free_port, log, run

CVOIPD = os.path.join(BIN, "cvoipd")


def sh(args, **kw):
    return subprocess.run([CVOIPD] + args, capture_output=True, text=True, timeout=30, **kw)


def test(tmp):
    p = sh(["--help"])
    assert p.returncode == 0 and "--check-config" in p.stdout and "--listen" in p.stdout
    p = sh(["--version"])
    assert p.returncode == 0 and p.stdout.startswith("cvoipd ")
    p = sh(["--no-such-option"])
    assert p.returncode == 2 and p.stderr, p

    demo = os.path.join(SRC, "etc/cvoipd.demo.yaml")
    p = sh(["--check-config", demo])
    assert p.returncode == 0 and p.stdout.strip().endswith(": ok"), p
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as f:
        f.write("server:\n  workers: 2\n  colour: blue\n")
    p = sh(["--check-config", bad])
    assert p.returncode == 1 and "bad.yaml:3: unknown key 'colour'" in p.stderr, p
    with open(bad, "w") as f:
        f.write("registrar:\n  min_expires: lots\n")
    p = sh(["--check-config", bad])
    assert p.returncode == 1 and "bad.yaml:2:" in p.stderr and "integer" in p.stderr, p
    with open(bad, "w") as f:
        f.write("listen:\n  - carrier-pigeon:1.2.3.4\n")
    p = sh(["--check-config", bad])
    assert p.returncode == 1 and "carrier-pigeon" in p.stderr, p
    p = sh(["--config", os.path.join(tmp, "missing.yaml")])
    assert p.returncode == 1 and "missing.yaml" in p.stderr and len(p.stderr.splitlines()) == 1, p

    # unwritable database folder (a file where the folder should be)
    blocker = os.path.join(tmp, "notadir")
    open(blocker, "w").close()
    port = free_port()
    p = sh(["--config", demo, "--listen", "udp:127.0.0.1:%d" % port,
            "--db", "sqlite:%s/sub/x.db" % blocker])
    assert p.returncode == 1 and "notadir" in p.stderr, p

    # port already in use (TCP listener held by us)
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    busy = held.getsockname()[1]
    p = sh(["--config", demo, "--listen", "tcp:127.0.0.1:%d" % busy,
            "--db", "sqlite:" + os.path.join(tmp, "busy.db")])
    held.close()
    assert p.returncode == 1 and "listen" in p.stderr.lower(), p
    log("start-up failures: ok")

    # user management against a database, then the server sees the user
    db = "sqlite:" + os.path.join(tmp, "users.db")
    p = sh(["user", "add", "dave", "--password", "dave-secret", "--db", db])
    assert p.returncode == 0, p
    p = sh(["user", "add", "erin", "--password-stdin", "--db", db], input="erin-secret\n")
    assert p.returncode == 0, p
    p = sh(["user", "list", "--db", db])
    assert "dave" in p.stdout and "erin" in p.stdout, p
    p = sh(["user", "del", "erin", "--db", db])
    assert p.returncode == 0
    p = sh(["user", "list", "--db", db])
    assert "erin" not in p.stdout
    p = sh(["user", "add", "nopass", "--db", db])
    assert p.returncode == 2, p
    with open(os.path.join(tmp, "users.db"), "rb") as f:
        assert b"dave-secret" not in f.read(), "plaintext password in the database"
    log("user commands: ok")

    # a clean start and stop
    srv = Cvoipd(tmp).start()
    srv.stop()


if __name__ == "__main__":
    run(test)
