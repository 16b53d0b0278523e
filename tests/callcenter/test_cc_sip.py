"""The call center end to end: cvoipd (started here, own ports, SQLite in a
temp folder) with queues; python agent phones that register, answer, let
ring or decline and send a 1 kHz tone; callers that are SIPp (tests/server
scenarios) or python (when the test checks the audio the caller gets).

    test_cc_sip.py CASE    (bridge, sipp_bridge, next_agent, no_agents,
                            abandon, max_wait, moh, codes, devices,
                            priority, restart, baresip, config, soak,
                            ring_all, round_robin, fewest_calls,
                            least_talk, random, max_length)
"""
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ccsip  # noqa: E402
import sipkit  # noqa: E402

MOH_NOTES = [175, 196, 220, 247, 262, 294, 330, 349, 392, 440, 523]
AGENT_HZ = 1000
BOB_HZ = 700

CONFIG = """
server:
  workers: 2
  log_level: debug
  realm: cvoip
database: sqlite:var/cvoipd.db
media:
  relay: true
  rtp_port_min: 20000
  rtp_port_max: 29999
users:
  - {name: alice, password: alice-secret}
  - {name: bob, password: bob-secret}
  - {name: carol, password: carol-secret}
%(users)s
agents:
  - {name: agent1, password: agent1-secret, skills: {english: 8}}
  - {name: agent2, password: agent2-secret, skills: {english: 5}}
  - {name: agent3, password: agent3-secret, skills: {spanish: 9}}
%(agents)s
queues:
  - name: sales
    strategy: longest-idle
    ring_timeout: 4s
    max_wait: 5m
    overflow: user:bob
  - name: short
    strategy: round-robin
    ring_timeout: 2s
    max_wait: 2s
    overflow: announce:closed.wav
  - name: support
    strategy: skills-based
    required_skills: {english: 6}
    relax: [{after: 20s, drop: 5}]
    ring_timeout: 3s
    max_wait: 5m
    announce: 5s
    service_level: 10s
%(queues)s
callcenter:
  miss_cooldown: 1s
  miss_limit: 3
  announce_position: true
%(cc)s
"""


# every queue a case may call (settle() counts the calls to them)
CC_QUEUES = ["sales", "short", "support", "soakq", "ringq", "rrq", "fewq", "talkq", "randq", "tinyq"]


def reserve_port():
    """A SIP port for cvoipd claimed against every parallel test
    (cvtest.free_port: above the ephemeral range, one claim per port)."""
    return sipkit.cvtest.free_port()


def start_cvoipd(tmp, db, config, port, log_name="cvoipd.log"):
    """sipkit.start_cvoipd with our own port (reserve_port) and a random
    relay window in 10000-19999."""
    with open(config) as f:
        text = f.read()
    if "rtp_port_min: 20000" in text:
        lo = random.randrange(10000, 19000, 2)
        text = text.replace("rtp_port_min: 20000", "rtp_port_min: %d" % lo)
        text = text.replace("rtp_port_max: 29999", "rtp_port_max: %d" % (lo + 999))
        with open(config, "w") as f:
            f.write(text)
    srv = sipkit.Cvoipd(tmp, config=config)
    srv.args = [a.replace("127.0.0.1:%d" % srv.port, "127.0.0.1:%d" % port) for a in srv.args]
    srv.port = port
    srv.args[srv.args.index("--db") + 1] = db.url
    srv.dbh = db
    srv.logpath = os.path.join(tmp, log_name)
    return srv.start()


class Ctx:
    def __init__(self, tmp, extra=None):
        extra = extra or {}
        self.tmp = tmp
        path = os.path.join(tmp, "cvoipd.yaml")
        with open(path, "w") as f:
            f.write(CONFIG % {k: extra.get(k, "") for k in ("users", "agents", "queues", "cc")})
        self.db = sipkit.TestDb(tmp)
        self.srv = start_cvoipd(tmp, self.db, path, reserve_port())
        self.port = self.srv.port
        self.eps = []
        self.stats = None

    def agent(self, name, **kw):
        a = ccsip.Agent(self.port, name, **kw)
        self.eps.append(a)
        return a

    def caller(self, user="alice"):
        c = ccsip.Caller(self.port, user)
        self.eps.append(c)
        return c

    def log(self):
        return self.srv.log()

    def wait_log(self, text, timeout=15):
        sipkit.wait_for(lambda: text in self.log(), timeout, text)

    def state(self, agent, state, timeout=10):
        self.wait_log("agent %s " % agent, timeout)
        sipkit.wait_for(lambda: re.findall(r"agent %s \S+ -> (\S+)" % agent, self.log())[-1:] == [state],
                        timeout, "agent %s %s" % (agent, state))

    def wait_bridged(self, n=1, timeout=15):
        """The glue joined n calls (an agent's 200 is on its way to the
        glue when the phone counts it as answered)."""
        sipkit.wait_for(lambda: self.log().count("bridged caller") >= n, timeout, "bridge")

    def settle(self, timeout=20):
        """Wait until the glue saw every caller leg that reached it end
        (the server answers a BYE before the glue hears of it)."""
        def done():
            t = self.log()
            started = len(re.findall(r"call start call-id=\S+ from=(?!_callcenter)\S+ to=(%s) " % "|".join(CC_QUEUES), t))
            return t.count(" caller leg call-id=") >= started
        sipkit.wait_for(done, timeout, "the glue to see every caller leave")

    def stop(self, close_endpoints=True):
        self.settle()
        for e in self.eps if close_endpoints else ():
            e.close()
        if close_endpoints:
            self.eps = []
        sipkit.stop_all()
        self.srv.stop()
        text = self.log()
        m = re.search(r"callcenter totals: (\{.*\})", text)
        assert m, "no callcenter totals line"
        self.stats = {"totals": json.loads(m.group(1)), "queues": {}, "agents": {}}
        for kind, name, js in re.findall(r"callcenter (queue|agent) (\S+): (\{.*\})", text):
            self.stats[kind + "s"][name] = json.loads(js)
        return self.stats

    def outcomes(self):
        """queue_calls records: {(queue, outcome): count}."""
        out = {}
        for q, o, n in self.db.rows("select queue, outcome, count(*) from queue_calls group by queue, outcome"):
            out[(q, o)] = n
        return out


def check_totals(st, joined, answered=0, overflowed=0, abandoned=0):
    t = st["totals"]
    assert t["joined"] == joined and t["answered"] == answered and \
        t["overflowed"] == overflowed and t["abandoned"] == abandoned and \
        t["in_progress"] == 0, t
    assert t["joined"] == t["answered"] + t["overflowed"] + t["abandoned"], t


def spectrum(rtp, t0, t1, freqs):
    pcm = rtp.pcm(t0, t1)
    assert len(pcm) > 4000, "only %d samples between the marks" % len(pcm)
    return ccsip.dominant(pcm, freqs)


def case_bridge(ctx):
    """(1) caller -> queue -> agent answers -> bridged; the caller hears
    the music first and then the agent's tone."""
    a = ctx.agent("agent1", answer_delay=2.0)
    a.register()
    ctx.state("agent1", "available")
    c = ctx.caller()
    assert c.call("sales") == 200
    sipkit.wait_for(lambda: a.answered == 1, 10, "agent answered")
    ctx.wait_bridged()
    t_ans = time.time()
    time.sleep(2.0)
    f, lvl = spectrum(c.rtp, c.answered_at + 0.2, c.answered_at + 1.6, MOH_NOTES + [AGENT_HZ])
    assert f in MOH_NOTES and lvl > 300, (f, lvl)
    f, lvl = spectrum(c.rtp, t_ans + 0.5, t_ans + 2.0, MOH_NOTES + [AGENT_HZ])
    assert f == AGENT_HZ and lvl > 300, (f, lvl)
    assert c.hangup() == 200
    sipkit.wait_for(lambda: a.byes == 1, 10, "BYE to the agent")
    ctx.state("agent1", "wrap-up")
    st = ctx.stop()
    check_totals(st, 1, answered=1)
    assert st["queues"]["sales"]["answered"] == 1 and st["agents"]["agent1"]["answered"] == 1
    assert ctx.outcomes() == {("sales", 0): 1}, ctx.outcomes()


def case_next_agent(ctx):
    """(2) the first agent does not answer within the ring timeout: it gets
    CANCEL and the caller goes to the next agent."""
    a1 = ctx.agent("agent1", behaviour="noanswer")
    a1.register()
    ctx.state("agent1", "available")
    a2 = ctx.agent("agent2", freq=AGENT_HZ)
    a2.register()
    ctx.state("agent2", "available")
    c = ctx.caller()
    assert c.call("sales") == 200
    sipkit.wait_for(lambda: a2.answered == 1, 15, "agent2 answered")
    ctx.wait_bridged()
    assert a1.invites == 1 and a1.cancelled == 1, a1.events
    t = time.time()
    time.sleep(1.5)
    f, _ = spectrum(c.rtp, t, t + 1.5, MOH_NOTES + [AGENT_HZ])
    assert f == AGENT_HZ, f
    assert c.hangup() == 200
    sipkit.wait_for(lambda: a2.byes == 1, 10, "BYE to agent2")
    st = ctx.stop()
    check_totals(st, 1, answered=1)
    assert st["agents"]["agent1"]["missed"] == 1 and st["agents"]["agent2"]["answered"] == 1, st["agents"]


def case_no_agents(ctx):
    """(3) nobody logged in: the caller overflows to user:bob (a phone
    registered as bob) and hears bob."""
    bob = ctx.agent("bob", freq=BOB_HZ)
    bob.register()
    c = ctx.caller()
    assert c.call("sales") == 200
    sipkit.wait_for(lambda: bob.answered == 1, 10, "bob answered")
    t = time.time()
    time.sleep(1.5)
    f, _ = spectrum(c.rtp, t, t + 1.5, MOH_NOTES + [BOB_HZ])
    assert f == BOB_HZ, f
    assert c.hangup() == 200
    sipkit.wait_for(lambda: bob.byes == 1, 10, "BYE to bob")
    st = ctx.stop()
    check_totals(st, 1, overflowed=1)
    assert st["queues"]["sales"]["overflowed"] == 1
    assert sum(ctx.outcomes().values()) == 1, ctx.outcomes()


def pause_agent1(ctx):
    """agent1 registered, then paused with *22 (paused agents count as
    logged in, so callers wait)."""
    a = ctx.agent("agent1")
    a.register()
    ctx.state("agent1", "available")
    assert a.dial("*22") == 200
    ctx.state("agent1", "paused")
    return a


def case_abandon(ctx):
    """(4) the caller (SIPp) hangs up while waiting: abandoned."""
    pause_agent1(ctx)
    s = sipkit.Sipp(ctx.tmp, "alice", "uac_call.xml", ctx.port,
                    subst={"CALLEE": "sales", "HOLD": 2000}).start()
    s.expect_ok(30)
    sipkit.wait_for(lambda: "abandoned" in ctx.log() or "ended: 0 BYE" in ctx.log(), 10, "hang-up seen")
    st = ctx.stop()
    check_totals(st, 1, abandoned=1)
    assert st["queues"]["sales"]["abandoned"] == 1


def case_max_wait(ctx):
    """(5) max wait (2 s) with the only agent paused: the caller overflows
    to an announcement, hears it and gets BYE."""
    pause_agent1(ctx)
    c = ctx.caller()
    assert c.call("short") == 200
    sipkit.wait_for(lambda: c.ended_by_server is not None, 20, "BYE after the announcement")
    waited = c.ended_by_server - c.answered_at
    assert waited > 2.5, waited  # 2 s of music, then the prompt
    st = ctx.stop()
    check_totals(st, 1, overflowed=1)
    assert st["queues"]["short"]["overflowed"] == 1


def case_moh(ctx):
    """(6) the waiting caller gets music on hold: a steady 50 packets/s of
    PCMU whose notes are the melody's, and a position announcement."""
    pause_agent1(ctx)
    c = ctx.caller()
    assert c.call("support") == 200
    time.sleep(3.0)
    t0 = c.answered_at
    pk = [t for t, _ in c.rtp.rx if t0 + 0.5 <= t <= t0 + 2.5]
    assert 80 <= len(pk) <= 120, len(pk)
    notes = set()
    for i in range(4):
        f, lvl = spectrum(c.rtp, t0 + 0.4 + 0.6 * i, t0 + 1.0 + 0.6 * i + 0.5, MOH_NOTES + [AGENT_HZ])
        assert lvl > 300, lvl
        notes.add(f)
    assert notes <= set(MOH_NOTES) and len(notes) >= 2, notes  # a melody, not one tone
    # the position announcement (announce: 5s), then the music again
    ctx.wait_log("announce position-1.wav to call-id=", 10)
    t1 = time.time()
    time.sleep(6.0)
    f, _ = spectrum(c.rtp, t1 + 4.0, t1 + 6.0, MOH_NOTES + [AGENT_HZ])
    assert f in MOH_NOTES, f
    assert c.hangup() == 200
    st = ctx.stop()
    check_totals(st, 1, abandoned=1)


def case_codes(ctx):
    """*20..*23 dialled by an agent; a non-agent gets 403 (the server
    routes codes of agents only: 404 for others)."""
    a = ctx.agent("agent2")
    assert a.dial("*20") == 200
    ctx.state("agent2", "available")
    assert a.dial("*22") == 200
    ctx.state("agent2", "paused")
    assert a.dial("*23") == 200
    ctx.state("agent2", "available")
    assert a.dial("*21") == 200
    ctx.state("agent2", "logged-out")
    c = ctx.agent("carol")
    assert c.dial("*20") in (403, 404, 480)
    st = ctx.stop()
    assert st["agents"]["agent2"]["state"] == "logged-out"
    rows = ctx.db.rows("select state from agents where name = 'agent2'")
    assert rows == [(0,)], rows


def case_sipp_bridge(ctx):
    """(1) with a SIPp caller: bridged to the agent, SIPp hangs up."""
    a = ctx.agent("agent1")
    a.register()
    ctx.state("agent1", "available")
    s = sipkit.Sipp(ctx.tmp, "alice", "uac_call.xml", ctx.port,
                    subst={"CALLEE": "sales", "HOLD": 3000}).start()
    s.expect_ok(30)
    sipkit.wait_for(lambda: a.byes == 1, 10, "BYE to the agent")
    st = ctx.stop()
    check_totals(st, 1, answered=1)


def case_soak(ctx):
    """Many callers and 10 agents with random behaviour (answer, no answer,
    decline, agent hangs up, caller abandons): every caller ends in exactly
    one outcome and the figures add up; every agent idle at the end."""
    rnd = random.Random(int(os.environ.get("CV_SOAK_SEED", "7")))
    n_callers = int(os.environ.get("CV_SOAK_CALLERS", "200"))
    agents = []
    for i in range(10):
        beh = (lambda n, r=random.Random(rnd.random()):
               r.choice(["answer", "answer", "answer", "noanswer", "decline"]))
        a = ctx.agent("soak%d" % i, password="soak-secret", behaviour=beh,
                      answer_delay=rnd.uniform(0.1, 0.6), hangup_after=rnd.uniform(0.5, 2.0))
        a.register()
        agents.append(a)
    sipkit.wait_for(lambda: ctx.log().count(" logged-out -> available") >= 10, 15, "agents in")
    callers = []
    t_end = time.time() + 40
    for i in range(n_callers):
        c = ctx.caller("caller%d" % (i % 20))
        c.password = "caller-secret"
        callers.append(c)
    import threading

    def run(c):
        try:
            if c.call("soakq", timeout=30) != 200:
                return
            stay = rnd.uniform(0.5, 6.0)
            end = time.time() + stay
            while time.time() < end and c.ended_by_server is None:
                time.sleep(0.05)
            if c.ended_by_server is None:
                c.hangup()
        except AssertionError as e:
            print("caller:", e, flush=True)
    ths = []
    for c in callers:
        th = threading.Thread(target=run, args=(c,), daemon=True)
        th.start()
        ths.append(th)
        time.sleep(rnd.uniform(0.02, 0.12))
    for th in ths:
        th.join(max(1, t_end - time.time()))
    time.sleep(3)  # agents' own hang-ups and wrap-ups settle
    st = ctx.stop()
    t = st["totals"]
    # a caller whose INVITE got no final answer in time (a loaded machine)
    # may or may not have reached the engine; every other one did
    heard = sum(1 for c in callers if c.status is not None)
    assert heard <= t["joined"] <= n_callers and heard >= n_callers * 0.9, (heard, t)
    assert t["in_progress"] == 0 and t["bridged"] == 0, t
    assert t["joined"] == t["answered"] + t["overflowed"] + t["abandoned"], t
    q = st["queues"]["soakq"]
    assert q["joined"] == q["answered"] + q["abandoned"] + q["overflowed"], q
    assert q["waiting"] == 0
    for name, ag in st["agents"].items():
        if name.startswith("soak"):
            assert ag["calls"] == 0 and ag["state"] in ("available", "wrap-up", "paused"), (name, ag)
    rows = dict(((o, n) for o, n in ctx.db.rows("select outcome, count(*) from queue_calls where queue='soakq' group by outcome")))
    assert sum(rows.values()) == t["joined"], rows
    print("soak totals", t, flush=True)


def case_devices(ctx):
    """An agent registered from two devices stays logged in until the last
    one un-registers; REGISTER logs in, un-REGISTER logs out."""
    d1 = ctx.agent("agent2")
    d1.register()
    ctx.state("agent2", "available")
    d2 = ctx.agent("agent2")
    d2.register()
    time.sleep(0.5)
    d1.register(expires=0)
    time.sleep(1.0)
    assert re.findall(r"agent agent2 \S+ -> (\S+)", ctx.log())[-1] == "available"
    # a call reaches the remaining device
    c = ctx.caller()
    assert c.call("sales") == 200
    sipkit.wait_for(lambda: d2.answered == 1, 10, "the second device answered")
    ctx.wait_bridged()
    assert d1.invites == 0
    assert c.hangup() == 200
    sipkit.wait_for(lambda: d2.byes == 1, 10, "BYE to the device")
    d2.register(expires=0)
    ctx.state("agent2", "logged-out")
    st = ctx.stop()
    check_totals(st, 1, answered=1)
    assert st["agents"]["agent2"]["logged_in"] is False


def case_priority(ctx):
    """Caller priority from callcenter.priority (by authenticated caller):
    carol (5) is served before alice, who called first."""
    a = pause_agent1(ctx)
    alice = ctx.caller("alice")
    assert alice.call("sales") == 200
    time.sleep(0.5)
    carol = ctx.caller("carol")
    assert carol.call("sales") == 200
    time.sleep(0.5)
    assert a.dial("*23") == 200
    sipkit.wait_for(lambda: a.answered == 1, 10, "agent answered")
    ctx.wait_bridged()
    cid = [e[1] for e in a.events if e[0] == "answer"][0]
    assert "carol" in a.calls[cid]["from"], a.calls[cid]["from"]
    assert carol.hangup() == 200
    assert alice.hangup() == 200
    st = ctx.stop()
    check_totals(st, 2, answered=1, abandoned=1)


def case_baresip(ctx):
    """Two real softphones (baresip): agent1 (auto-answer, plays 1 kHz)
    logs in by registering, alice (plays 440 Hz) dials sip:sales@. Each
    hears the other through the queue's bridge."""
    import cvtest
    cvtest.make_tone(os.path.join(ctx.tmp, "agent.wav"), 1000, seconds=12)
    cvtest.make_tone(os.path.join(ctx.tmp, "alice.wav"), 440, seconds=12)
    agent = cvtest.Baresip(ctx.tmp, "agent1", "agent1-secret", ctx.port,
                           os.path.join(ctx.tmp, "agent.wav"), answer=True).start()
    alice = cvtest.Baresip(ctx.tmp, "alice", "alice-secret", ctx.port,
                           os.path.join(ctx.tmp, "alice.wav")).start()
    ctx.eps_baresip = [agent, alice]
    try:
        agent.wait_registered(15)
        alice.wait_registered(15)
        ctx.state("agent1", "available")
        alice.command("dial", "sip:sales@127.0.0.1")
        alice.wait_event("CALL_ESTABLISHED", 15)
        agent.wait_event("CALL_ESTABLISHED", 15)
        time.sleep(4)
        alice.command("hangup")
        agent.wait_event("CALL_CLOSED", 15)
        alice.wait_event("CALL_CLOSED", 15)
    finally:
        agent.stop()
        alice.stop()
    st = ctx.stop()
    check_totals(st, 1, answered=1)
    for ua, freq in ((agent, 440), (alice, 1000)):
        path = ua.recorded("dec")
        assert path, "no recording for " + ua.dir
        ratio, rms = cvtest.tone_ratio(path, freq, others=(300, 600, 1500, 440 if freq != 440 else 1000))
        print("%s heard %d Hz: ratio %.1f rms %.0f" % (os.path.basename(ua.dir), freq, ratio, rms))
        assert ratio > 10 and rms > 300, (ua.dir, ratio, rms)


def case_restart(ctx):
    """Bindings reloaded from the database after a restart log their
    agents in: a call reaches the agent without a new REGISTER."""
    a = ctx.agent("agent1")
    a.register()
    ctx.state("agent1", "available")
    ctx.stop(close_endpoints=False)
    log1 = ctx.srv.log()
    ctx.srv = start_cvoipd(ctx.tmp, ctx.db, os.path.join(ctx.tmp, "cvoipd.yaml"), ctx.port,
                           log_name="cvoipd2.log")
    ctx.port = ctx.srv.port
    ctx.wait_log("agent agent1: registered at start from", 10)
    ctx.state("agent1", "available")
    c = ctx.caller()
    assert c.call("sales") == 200
    sipkit.wait_for(lambda: a.answered == 1, 10, "agent answered after the restart")
    ctx.wait_bridged()
    assert c.hangup() == 200
    st = ctx.stop()
    check_totals(st, 1, answered=1)
    assert "callcenter totals" in log1


def case_config(ctx):
    """Bad call center configuration is refused with file:line, by
    --check-config (keys, values) and at start (what the engine refuses)."""
    ctx.stop()
    import subprocess
    bin_ = os.path.join(sipkit.BIN, "cvoipd")
    bad = [
        ("callcenter:\n  miss_limit: 3\n  colour: red\n", ":3: unknown key 'colour'"),
        ("callcenter:\n  feature_codes: {login: '*20', logout: '*20'}\n", ":2: feature codes"),
        ("callcenter:\n  feature_codes: {login: 'abc'}\n", ":2: a feature code"),
        ("queues:\n  - name: q\n    relax: [{after: 10s}]\n", ":3: a relax step needs"),
        ("queues:\n  - name: q\n    announce: 1s\n", ":3:"),
        ("queues:\n  - name: q\n    service_level: soon\n", ":3:"),
    ]
    for text, want in bad:
        path = os.path.join(ctx.tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([bin_, "--check-config", path], capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and want in p.stderr, (text, p.stderr)
    # accepted by the reader, refused by the engine: at start, file:line
    path = os.path.join(ctx.tmp, "engine.yaml")
    with open(path, "w") as f:
        f.write("agents:\n  - {name: a1, password: x}\nqueues:\n  - name: ok\n"
                "  - name: q\n    strategy: skills-based\n")
    p = subprocess.run([bin_, "--config", path, "--listen", "udp:127.0.0.1:0",
                        "--db", "sqlite:" + os.path.join(ctx.tmp, "e.db")],
                       capture_output=True, text=True, timeout=60, cwd=ctx.tmp)
    assert p.returncode != 0 and "engine.yaml:5: " in p.stderr, p.stderr


# Strategy and overflow scenarios: agents x1..x3 (no wrap-up, so an agent
# is offerable again as soon as its call ends) and one queue per strategy.
STRAT_EXTRA = {
    "agents": "\n".join("  - {name: x%d, password: x%d-secret, wrapup: 0s}" % (i, i) for i in (1, 2, 3)),
    "queues": """  - name: ringq
    strategy: ring-all
    ring_timeout: 15s
  - name: rrq
    strategy: round-robin
    ring_timeout: 15s
  - name: fewq
    strategy: fewest-calls
    ring_timeout: 15s
  - name: talkq
    strategy: least-talk-time
    ring_timeout: 15s
  - name: randq
    strategy: random
    ring_timeout: 15s
  - name: tinyq
    strategy: longest-idle
    max_length: 1
    overflow: user:bob""",
}


def login(ctx, name, **kw):
    """A python agent phone for name, registered and available."""
    a = ctx.agent(name, **kw)
    a.register()
    ctx.state(name, "available")
    return a


def served_by(ctx, queue, agents, want, hold=0.0, user="alice"):
    """One caller into queue; asserts that `want` (and no other of
    `agents`) got the INVITE and answered; holds `hold` s after the bridge,
    hangs up and waits until `want` is available again."""
    before = {a.user: (a.invites, a.answered) for a in agents}
    bridged = ctx.log().count("bridged caller")
    c = ctx.caller(user)
    assert c.call(queue) == 200
    sipkit.wait_for(lambda: want.answered == before[want.user][1] + 1, 15, want.user + " answered")
    ctx.wait_bridged(bridged + 1)
    for a in agents:
        if a is not want:
            assert (a.invites, a.answered) == before[a.user], (a.user, a.events)
    assert want.invites == before[want.user][0] + 1, want.events
    cid = [e[1] for e in want.events if e[0] == "answer"][-1]
    assert user in want.calls[cid]["from"], want.calls[cid]["from"]
    if hold:
        time.sleep(hold)
    assert c.hangup() == 200
    sipkit.wait_for(lambda: want.byes == before[want.user][1] + 1, 10, "BYE to " + want.user)
    ctx.state(want.user, "available")
    return c


def case_ring_all(ctx):
    """ring-all: every logged-in agent rings at once; x2 answers first and
    gets the caller, x1 and x3 (still ringing) get CANCEL."""
    x1 = login(ctx, "x1", behaviour="noanswer")
    x2 = login(ctx, "x2", answer_delay=1.5)
    x3 = login(ctx, "x3", behaviour="noanswer")
    c = ctx.caller()
    assert c.call("ringq") == 200
    sipkit.wait_for(lambda: x2.answered == 1, 15, "x2 answered")
    ctx.wait_bridged()
    # the three INVITEs were out before x2 answered (it waits 1.5 s)
    t_ans = [e for e in x2.events if e[0] == "answer"]
    assert x1.invites == 1 and x3.invites == 1 and len(t_ans) == 1, (x1.events, x3.events)
    for a in (x1, x3):
        t_inv = list(a.calls.values())[0]["t"]
        assert t_inv < x2.calls[t_ans[0][1]]["ta"], (a.user, "rang after the answer")
    sipkit.wait_for(lambda: x1.cancelled == 1 and x3.cancelled == 1, 10, "CANCEL to x1 and x3")
    assert x1.answered == 0 and x3.answered == 0
    assert c.hangup() == 200
    sipkit.wait_for(lambda: x2.byes == 1, 10, "BYE to x2")
    st = ctx.stop()
    check_totals(st, 1, answered=1)
    assert st["queues"]["ringq"]["answered"] == 1, st["queues"]["ringq"]
    assert st["agents"]["x2"]["answered"] == 1 and st["agents"]["x1"]["answered"] == 0, st["agents"]
    assert ctx.outcomes() == {("ringq", 0): 1}, ctx.outcomes()
    rows = ctx.db.rows("select agent from queue_calls where queue = 'ringq'")
    assert rows == [("x2",)], rows


def case_round_robin(ctx):
    """round-robin: x2 logs in first (longest-idle would pick it), yet the
    turn starts at x1 (configuration order) and successive callers go to
    x1, x2, x1, x2 whoever has been idle longest."""
    x2 = login(ctx, "x2")
    x1 = login(ctx, "x1")
    for want in (x1, x2, x1, x2):
        served_by(ctx, "rrq", [x1, x2], want)
    st = ctx.stop()
    check_totals(st, 4, answered=4)
    assert st["agents"]["x1"]["answered"] == 2 and st["agents"]["x2"]["answered"] == 2, st["agents"]
    rows = ctx.db.rows("select agent from queue_calls where queue = 'rrq' order by arrival_us")
    assert [r[0] for r in rows] == ["x1", "x2", "x1", "x2"], rows


def case_fewest_calls(ctx):
    """fewest-calls: x1 takes a call alone; then x2 logs in. The next
    caller goes to x2 (no call yet) although x1 has been idle longer, and
    the one after to x1 again (a tie: 1 call each, x1 idle longer)."""
    x1 = login(ctx, "x1")
    served_by(ctx, "fewq", [x1], x1)
    x2 = login(ctx, "x2")
    served_by(ctx, "fewq", [x1, x2], x2)
    served_by(ctx, "fewq", [x1, x2], x1)
    st = ctx.stop()
    check_totals(st, 3, answered=3)
    assert st["agents"]["x1"]["answered"] == 2 and st["agents"]["x2"]["answered"] == 1, st["agents"]
    rows = ctx.db.rows("select agent from queue_calls where queue = 'fewq' order by arrival_us")
    assert [r[0] for r in rows] == ["x1", "x2", "x1"], rows


def case_least_talk(ctx):
    """least-talk-time: x1 talks 3 s, x2 then a short call; the third
    caller goes to x2 (less talk time) although both have one call and x1
    has been idle longer (fewest-calls and longest-idle would pick x1)."""
    x1 = login(ctx, "x1")
    x2 = login(ctx, "x2")
    served_by(ctx, "talkq", [x1, x2], x1, hold=3.0)
    served_by(ctx, "talkq", [x1, x2], x2)
    served_by(ctx, "talkq", [x1, x2], x2)
    st = ctx.stop()
    check_totals(st, 3, answered=3)
    assert st["agents"]["x2"]["answered"] == 2, st["agents"]
    rows = ctx.db.rows("select agent from queue_calls where queue = 'talkq' order by arrival_us")
    assert [r[0] for r in rows] == ["x1", "x2", "x2"], rows


def case_random(ctx):
    """random: 6 callers in turn; every one is answered by a logged-in,
    unpaused member (x1 or x2), never by x3 (paused with *22)."""
    x1 = login(ctx, "x1")
    x2 = login(ctx, "x2")
    x3 = login(ctx, "x3")
    assert x3.dial("*22") == 200
    ctx.state("x3", "paused")
    n = 6
    for i in range(n):
        bridged = ctx.log().count("bridged caller")
        done = x1.answered + x2.answered
        c = ctx.caller()
        assert c.call("randq") == 200
        sipkit.wait_for(lambda: x1.answered + x2.answered == done + 1, 15, "an agent answered")
        ctx.wait_bridged(bridged + 1)
        assert x1.invites + x2.invites == i + 1, (x1.events, x2.events)
        assert c.hangup() == 200
        sipkit.wait_for(lambda: x1.byes + x2.byes == i + 1, 10, "BYE to the agent")
        for a in (x1, x2):
            ctx.state(a.user, "available")
    assert x3.invites == 0, x3.events
    print("random: x1 %d, x2 %d" % (x1.answered, x2.answered), flush=True)
    st = ctx.stop()
    check_totals(st, n, answered=n)
    rows = ctx.db.rows("select agent, count(*) from queue_calls where queue = 'randq' group by agent")
    assert sum(r[1] for r in rows) == n and set(r[0] for r in rows) <= {"x1", "x2"}, rows


def case_max_length(ctx):
    """max length 1: alice waits in tinyq (its agent paused); carol, the
    second caller, is sent at once to the overflow target user:bob."""
    pause_agent1(ctx)
    bob = ctx.agent("bob", freq=BOB_HZ)
    bob.register()
    alice = ctx.caller("alice")
    assert alice.call("tinyq") == 200
    time.sleep(1.0)
    assert bob.invites == 0, bob.events
    carol = ctx.caller("carol")
    t0 = time.time()
    assert carol.call("tinyq") == 200
    sipkit.wait_for(lambda: bob.answered == 1, 10, "bob answered")
    assert time.time() - t0 < 8, "overflow was not at once"
    t = time.time()
    time.sleep(1.5)
    f, _ = spectrum(carol.rtp, t, t + 1.5, MOH_NOTES + [BOB_HZ])
    assert f == BOB_HZ, f
    # alice is still waiting, hearing the music
    f, _ = spectrum(alice.rtp, t, t + 1.5, MOH_NOTES + [BOB_HZ])
    assert f in MOH_NOTES, f
    assert carol.hangup() == 200
    sipkit.wait_for(lambda: bob.byes == 1, 10, "BYE to bob")
    assert alice.hangup() == 200
    st = ctx.stop()
    check_totals(st, 2, overflowed=1, abandoned=1)
    q = st["queues"]["tinyq"]
    assert q["joined"] == 2 and q["overflowed"] == 1 and q["abandoned"] == 1, q
    rows = ctx.db.rows("select caller, overflow_target from queue_calls where queue = 'tinyq' order by arrival_us")
    assert len(rows) == 2 and "alice" in rows[0][0] and rows[0][1] == "", rows
    assert "carol" in rows[1][0] and rows[1][1] == "user:bob", rows


SOAK_EXTRA = {
    "users": "\n".join("  - {name: caller%d, password: caller-secret}" % i for i in range(20)),
    "agents": "\n".join("  - {name: soak%d, password: soak-secret, skills: {soak: %d}}" % (i, 1 + i % 9)
                        for i in range(10)),
    "queues": """  - name: soakq
    strategy: skills-based
    required_skills: {soak: 1}
    ring_timeout: 2s
    max_wait: 8s
    max_length: 40
    overflow: hangup""",
}


EXTRA = {"soak": SOAK_EXTRA, "priority": {"cc": "  priority: {carol: 5, \"vip*\": 10}"}}
for _c in ("ring_all", "round_robin", "fewest_calls", "least_talk", "random", "max_length"):
    EXTRA[_c] = STRAT_EXTRA

def main():
    case = sys.argv[1]
    fn = globals()["case_" + case]
    tmp = tempfile.mkdtemp(prefix="cv_cc_%s_" % case)
    ctx = None
    ok = False
    try:
        ctx = Ctx(tmp, EXTRA.get(case))
        fn(ctx)
        ok = True
        print("ok:", case)
    except Exception:
        traceback.print_exc()
        if ctx:
            print(ctx.log()[-6000:])
            if os.environ.get("CV_CC_GDB") and ctx.srv.proc.poll() is None:
                import subprocess
                subprocess.run(["gdb", "-batch", "-p", str(ctx.srv.proc.pid),
                                "-ex", "thread apply all bt"], timeout=60)
    finally:
        if ctx:
            for e in ctx.eps:
                e.close()
            sipkit.stop_all()
            ctx.srv.kill()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept", tmp)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
