#!/usr/bin/env python3
"""`cvoip call/answer --audio device[:NAME]` without a sound card: ALSA's
own plugins stand in for it, from a config file given by ALSA_CONFIG_PATH
(it replaces the system's, so "default" is not defined there):
  cvdev = asym { playback: file plugin writing raw PCM (slave null),
                 capture: file plugin reading raw PCM (infile, slave null) }
1. errors: --audio device (no "default"), device:nosuch, --audio bogus,
   --aec without a device, a bad --audio-rate, a device with both --tone
   and --record: a one-line error and exit 2 (usage);
2. cvoip call --audio device:cvdev (48 kHz, --audio-period 10) -> cvoip answer --tone 1000
   --record: the far end hears the 440 Hz "microphone" file, and the
   "loudspeaker" file holds the 1000 Hz tone the far end sent;
3. the other way round with --aec and a 16 kHz device on the answerer."""
import math
import os
import struct
import subprocess
import sys
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cvtest import free_port, log, run, tone_ratio  # noqa: E402
from test_cli_call import CVOIP, Answerer, events  # noqa: E402

CONF = """
pcm.cvspk {{
	type file
	slave.pcm {{ type null }}
	file "{spk}"
	format "raw"
}}
pcm.cvmic {{
	type file
	slave.pcm {{ type null }}
	file "/dev/null"
	infile "{mic}"
	format "raw"
}}
pcm.cvdev {{
	type asym
	playback.pcm "cvspk"
	capture.pcm "cvmic"
}}
"""


def alsa_env(tmp, name, rate, freq):
    """A config with cvdev whose microphone plays freq at rate (8 s)."""
    mic = os.path.join(tmp, name + "-mic.raw")
    spk = os.path.join(tmp, name + "-spk.raw")
    with open(mic, "wb") as f:
        f.write(b"".join(struct.pack("<h", int(0.3 * 32767 * math.sin(2 * math.pi * freq * i / rate)))
                         for i in range(8 * rate)))
    conf = os.path.join(tmp, name + "-asound.conf")
    with open(conf, "w") as f:
        f.write(CONF.format(spk=spk, mic=mic))
    env = dict(os.environ, ALSA_CONFIG_PATH=conf)
    return env, spk


def raw_to_wav(raw, rate):
    path = raw[:-4] + ".wav"
    with open(raw, "rb") as f:
        data = f.read()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data[:len(data) // 2 * 2])
    return path


def check_tone(path, freq, other):
    ratio, rms = tone_ratio(path, freq, others=(300, 600, 1500, other))
    log("%s: %d Hz ratio %.0f rms %.0f" % (os.path.basename(path), freq, ratio, rms))
    assert rms > 500 and ratio > 100, path


def cvoip(args, env, timeout=40):
    p = subprocess.run([CVOIP] + args, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def errors(tmp):
    env, _ = alsa_env(tmp, "err", 48000, 440)
    target = "sip:bob@127.0.0.1:%d" % free_port()
    cases = [
        (["call", target, "--audio", "device"], "audio device 'default'"),
        (["call", target, "--audio", "device:nosuch"], "audio device 'nosuch'"),
        (["answer", "--listen", "udp:127.0.0.1:0", "--audio", "device:nosuch"],
         "audio device 'nosuch'"),
        (["call", target, "--audio", "bogus"], "--audio takes device"),
        (["call", target, "--aec"], "need --audio device"),
        (["call", target, "--audio", "device:cvdev", "--tone", "440", "--record",
          os.path.join(tmp, "x.wav")], "neither microphone nor loudspeaker"),
        (["call", target, "--audio", "device:cvdev", "--audio-rate", "44100"], "--audio-rate"),
    ]
    for args, want in cases:
        rc, out, err = cvoip(args, env, timeout=20)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert rc == 2, (args, rc, out, err)
        assert len(lines) == 1 and want in lines[0], (args, err)
        log("%s -> exit 2: %s" % (" ".join(args[2:]), lines[0]))


def device_calls(tmp):
    # 2. the caller uses the device (48 kHz)
    env, spk = alsa_env(tmp, "caller", 48000, 440)
    bob_wav = os.path.join(tmp, "bob.wav")
    port = free_port()
    ans = Answerer(tmp, ["--listen", "udp:127.0.0.1:%d" % port, "--tone", "1000",
                         "--record", bob_wav])
    try:
        ans.wait(lambda e: e.get("event") == "listening", 10, "listening")
        rc, out, err = cvoip(["call", "--json", "sip:bob@127.0.0.1:%d" % port,
                              "--audio", "device:cvdev", "--audio-period", "10",
                              "--duration", "3"], env)
        assert rc == 0, out + err
        q = [e for e in events(out) if e["event"] == "quality"][0]
        assert q["rx_packets"] > 80 and q["tx_packets"] > 80, q
        dev = [e for e in events(out) if e["event"] == "device"][0]
        log("caller device:", dev)
        # about 3 s each way at 48 kHz, no echo canceller
        assert dev["rate"] == 48000 and dev["aec_frames"] == 0, dev
        assert dev["captured"] > 96000 and dev["played"] > 96000, dev
        assert ans.finish(20) == 0, open(ans.out).read()
    finally:
        if ans.proc.poll() is None:
            ans.proc.kill()
            ans.finish()
    check_tone(bob_wav, 440, 1000)
    spk_wav = raw_to_wav(spk, 48000)
    check_tone(spk_wav, 1000, 440)
    log("call --audio device:cvdev -> answer --tone: ok")

    # 3. the answerer uses the device at 16 kHz with echo cancellation
    tmp3 = os.path.join(tmp, "aec")
    os.mkdir(tmp3)
    env, spk = alsa_env(tmp3, "answerer", 16000, 440)
    alice_wav = os.path.join(tmp3, "alice.wav")
    port = free_port()
    ans_out = os.path.join(tmp3, "answer.out")
    with open(ans_out, "w") as f:
        proc = subprocess.Popen([CVOIP, "answer", "--json", "--listen", "udp:127.0.0.1:%d" % port,
                                 "--audio", "device:cvdev", "--aec", "--audio-rate", "16000",
                                 "--max-calls", "1"], stdout=f, stderr=subprocess.STDOUT, env=env)
    try:
        ok = False
        for _ in range(100):
            with open(ans_out) as f:
                if any(e.get("event") == "listening" for e in events(f.read())):
                    ok = True
                    break
            if proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.1"])
        assert ok, open(ans_out).read()
        rc, out, err = cvoip(["call", "--json", "sip:bob@127.0.0.1:%d" % port, "--tone", "1000",
                              "--record", alice_wav, "--duration", "3", "--codec", "G722"],
                             dict(os.environ))
        assert rc == 0, out + err
        assert proc.wait(timeout=20) == 0, open(ans_out).read()
        with open(ans_out) as f:
            aev = events(f.read())
        dev = [e for e in aev if e["event"] == "device"][0]
        log("answerer device:", dev)
        # the canceller ran on the microphone (10 ms frames, about 3 s)
        assert dev["rate"] == 16000 and dev["aec_frames"] > 200, dev
        assert dev["captured"] > 32000 and dev["played"] > 32000, dev
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check_tone(alice_wav, 440, 1000)
    check_tone(raw_to_wav(spk, 16000), 1000, 440)
    log("answer --audio device:cvdev --aec --audio-rate 16000 <- call --tone: ok")


def test(tmp):
    errors(tmp)
    device_calls(tmp)


if __name__ == "__main__":
    run(test)
