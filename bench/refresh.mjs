// bench/refresh.mjs BASE CLIENT_ID CLIENT_SECRET SECONDS CHAINS OUT.json: CHAINS SDK sessions
// refreshed as fast as each chain allows (a refresh token is single-use, so each chain is
// sequential) for SECONDS; writes grants/s and latency percentiles.
import { writeFileSync } from 'node:fs';

const [base, id, secret, secs, chains, out] = process.argv.slice(2);
const basic = 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
const tr = await fetch(base + '/oauth/token', { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
const tok = (await tr.json()).access_token;
const lat = [];
let errors = 0;
const end = Date.now() + Number(secs) * 1000;
async function chain(i) {
  const s = await fetch(base + '/v1/sdk/sessions', { method: 'POST', headers: { authorization: 'Bearer ' + tok, 'content-type': 'application/json' }, body: JSON.stringify({ subject: 'bench-' + i, ttl: 3600 }) });
  let rt = (await s.json()).refresh_token;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    const r = await fetch(base + '/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=' + rt });
    const j = await r.json();
    if (r.status !== 200) { errors++; break; }
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    rt = j.refresh_token;
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Number(chains) }, (_, i) => chain(i)));
const dur = (Date.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(3)) : 0;
writeFileSync(out, JSON.stringify({ rps: Number((lat.length / dur).toFixed(1)), grants: lat.length, chains: Number(chains), errors,
  latency_ms: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: lat.length ? Number(lat[lat.length - 1].toFixed(3)) : 0 } }));
