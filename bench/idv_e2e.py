#!/usr/bin/python3
"""idv_e2e.py: end-to-end verifications per minute through a real novad (issue 9 item 10).

    idv_e2e.py BUILD DOCS_DIR N [AMQP_URL]

Starts novad (fresh SQLite store, NOVA_IDV_WORKERS=2, the in-process queue or RabbitMQ when
AMQP_URL is given), makes a tenant and client with novactl, creates a workflow (ocr, mrz,
document_authenticity, age), submits N async verifications of the generated documents as fast
as it can and polls until every one is decided. Prints JSON: verifications per minute from the
first submission to the last decision, submission latency p50/p95, decision latency p50/p95.
"""
import base64, json, os, subprocess, sys, tempfile, time, urllib.request


def main():
    build, docs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    amqp = sys.argv[4] if len(sys.argv) > 4 else ""
    d = tempfile.mkdtemp(prefix="nova-idv-e2e-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
    env.update(NOVA_DATA_DIR=d, NOVA_PORT="0", NOVA_THREADS="2", NOVA_IDV_WORKERS="2",
               NOVA_AMQP_URL=amqp, NOVA_ACCESS_LOG="false",
               NOVA_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))
    proc = subprocess.Popen([build + "/cmd/novad", "serve"], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    port = None
    for line in proc.stderr:
        if '"novad listening"' in line:
            port = json.loads(line)["port"]
            break
    assert port, "novad did not start"
    base = "http://127.0.0.1:%d" % port

    def ctl(*args):
        return json.loads(subprocess.run([build + "/cmd/novactl", "--json", *args], env=env,
                                         check=True, capture_output=True, text=True).stdout)

    try:
        t = ctl("tenant", "create", "bench-%d" % os.getpid())
        c = ctl("client", "create", "--tenant", t["id"], "--name", "bench", "--scopes",
                "workflows:write verifications:read verifications:write")

        def req(method, path, body=None, tok=None, form=None):
            h = {"content-type": "application/json"}
            data = json.dumps(body).encode() if body is not None else None
            if form is not None:
                h = {"content-type": "application/x-www-form-urlencoded", "authorization": "Basic " +
                     base64.b64encode(("%s:%s" % (c["client_id"], c["client_secret"])).encode()).decode()}
                data = form.encode()
            if tok:
                h["authorization"] = "Bearer " + tok
            r = urllib.request.Request(base + path, data=data, method=method, headers=h)
            with urllib.request.urlopen(r) as resp:
                return json.loads(resp.read())

        tok = req("POST", "/oauth/token", form="grant_type=client_credentials")["access_token"]
        wf = req("POST", "/v1/workflows", {"name": "bench", "steps": [
            {"check": "ocr"}, {"check": "mrz"}, {"check": "document_authenticity", "on_fail": "review"},
            {"check": "age"}]}, tok)
        imgs = [base64.b64encode(open(os.path.join(docs, f), "rb").read()).decode()
                for f in sorted(os.listdir(docs)) if f.endswith(".jpg")]
        sub, ids, t0 = [], [], time.monotonic()
        for i in range(n):
            s0 = time.monotonic()
            v = req("POST", "/v1/verifications", {"workflow_id": wf["id"],
                                                   "images": {"document_front": imgs[i % len(imgs)]}}, tok)
            sub.append((time.monotonic() - s0) * 1000)
            ids.append((v["id"], s0))
        done = {}
        while len(done) < n:
            if time.monotonic() - t0 > 1800:
                raise SystemExit("not all decided in 30 minutes")
            for vid, s0 in ids:
                if vid in done:
                    continue
                v = req("GET", "/v1/verifications/" + vid, tok=tok)
                if v["status"] in ("completed", "failed"):
                    done[vid] = (time.monotonic() - s0) * 1000
            time.sleep(0.2)
        total = time.monotonic() - t0
        sub.sort()
        lat = sorted(done.values())
        print(json.dumps({
            "queue": "amqp" if amqp else "inproc", "workers": 2, "verifications": n,
            "seconds": round(total, 2), "per_minute": round(n / total * 60, 1),
            "submit_ms": {"p50": round(sub[n // 2], 1), "p95": round(sub[int(n * 0.95)], 1)},
            "decided_ms": {"p50": round(lat[n // 2], 1), "p95": round(lat[int(n * 0.95)], 1)},
        }))
    finally:
        proc.terminate()
        proc.wait()
        subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    main()
