#!/usr/bin/env python3
"""bench/attack.py: the two attacks of issue 5 against a running novad, with health probes.

  slowloris  CONNS connections from 127.0.0.2, each sending a request line and then one
             header line every INTERVAL seconds (reconnecting when the server closes one),
             for SECONDS; meanwhile a health probe from 127.0.0.1 every 5 s.
  bodies     CONNS connections (from 127.0.0.2-5) each sending a 1 MB body to an unknown
             route; novad's RSS before, at its peak during, and after they close.

usage: attack.py slowloris|bodies BASE_URL PID OUT.json [CONNS] [SECONDS]
Prints nothing but errors; writes the figures as JSON.
"""
import json
import resource
import selectors
import socket
import sys
import time
import urllib.request


def rss_mb(pid, key="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def metrics(base):
    req = urllib.request.Request(base + "/metrics")
    tok = __import__("os").environ.get("NOVA_METRICS_TOKEN")
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    out = {}
    with urllib.request.urlopen(req, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("nova_http_connections"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
    return out


def probe(host, port):
    t = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=5, source_address=("127.0.0.1", 0))
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = s.recv(64)
        s.close()
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, round((time.monotonic() - t) * 1000, 2)


def connect(host, port, src):
    s = socket.socket()
    s.setblocking(False)
    s.bind((src, 0))
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    return s


def slowloris(host, port, pid, conns, seconds, interval=10.0):
    sel = selectors.DefaultSelector()
    socks = {}
    opened = 0

    def open_one():
        nonlocal opened
        s = connect(host, port, "127.0.0.2")
        socks[s] = {"next": time.monotonic(), "started": False}
        sel.register(s, selectors.EVENT_READ)
        opened += 1

    rss_before = rss_mb(pid)
    m0 = metrics(f"http://{host}:{port}")
    for _ in range(conns):
        open_one()
    start = time.monotonic()
    next_probe = start + 1
    probes = []
    peak = rss_before
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        for s, st in list(socks.items()):
            if now >= st["next"]:
                try:
                    s.send(b"X-Slow: 1\r\n" if st["started"] else b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
                    st["started"] = True
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    st["next"] = float("inf")
                    continue
                st["next"] = now + interval
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                if s.recv(4096):
                    continue
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                pass
            sel.unregister(s)
            s.close()
            del socks[s]
            open_one()  # the attacker comes straight back
        if now >= next_probe:
            probes.append(probe(host, port))
            next_probe += 5
        peak = max(peak, rss_mb(pid))
    m1 = metrics(f"http://{host}:{port}")
    for s in socks:
        s.close()
    d = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1 if "total" in k}
    return {
        "attack": f"{conns} connections from 127.0.0.2, request line then one header line every "
                  f"{interval:g} s, reconnecting when closed; {seconds:g} s",
        "connections_opened_by_attacker": opened,
        "probes_sent": len(probes),
        "probes_answered": sum(1 for ok, _ in probes if ok),
        "probe_ms": [ms for _, ms in probes],
        "server_counters_delta": d,
        "rss_mb": {"before": rss_before, "peak_during": peak, "after": rss_mb(pid)},
    }


def bodies(host, port, pid, conns):
    body = b"x" * (1 << 20)
    head = b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    rss_before = rss_mb(pid)
    socks = [connect(host, port, f"127.0.0.{2 + i % 4}") for i in range(conns)]
    time.sleep(0.2)
    peak = rss_before
    sent = {s: 0 for s in socks}
    payload = head + body
    deadline = time.monotonic() + 20
    answered = 0
    while sent and time.monotonic() < deadline:
        for s in list(sent):
            try:
                n = s.send(payload[sent[s]:sent[s] + 65536])
                sent[s] += n
                if sent[s] >= len(payload):
                    del sent[s]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                del sent[s]  # the server answered and closed: it will not read the rest
        peak = max(peak, rss_mb(pid))
    for s in socks:
        try:
            s.setblocking(True)
            s.settimeout(1)
            if s.recv(64).startswith(b"HTTP/1.1 404"):
                answered += 1
        except OSError:
            pass
    peak = max(peak, rss_mb(pid))
    for s in socks:
        s.close()
    time.sleep(13)  # novad trims freed memory once quiet for 1 s, at most every 10 s
    return {
        "attack": f"{conns} connections from 127.0.0.2-5, each POSTing a 1 MB body to an unknown route",
        "answered_404": answered,
        "rss_mb": {"before": rss_before, "peak_during": peak, "after": rss_mb(pid),
                   "peak_process": rss_mb(pid, "VmHWM")},
    }


def main():
    mode, base, pid, out = sys.argv[1:5]
    conns = int(sys.argv[5]) if len(sys.argv) > 5 else 1100
    secs = float(sys.argv[6]) if len(sys.argv) > 6 else 60
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    host, port = base.split("//")[1].split(":")
    port = int(port)
    pid = int(pid)
    r = slowloris(host, port, pid, conns, secs) if mode == "slowloris" else bodies(host, port, pid, conns)
    json.dump(r, open(out, "w"), indent=2)


if __name__ == "__main__":
    main()
