// bench/scim.mjs: SCIM provisioning through the real novad on a fresh SQLite store (issue 11
// item 8): N users created over /scim/v2/Users one request at a time (an IdP's initial sync),
// then the lookups IdPs make: userName eq (the email blind index), externalId eq (the
// tenant's externalId links, one user opened), a page of 100 (which opens every user of the
// tenant for totalResults), and PATCH active false/true. Sequential
// requests on one connection, latency per request as the IdP sees it (wall time, loopback).
//   node bench/scim.mjs [USERS=2000] [OUT=bench/results/scim.json]   (NOVA_BIN: the novad)
import { writeFileSync } from 'node:fs';
import { startNova, makeTenant, token, call } from '../tests/integration/lib.mjs';

const N = Number(process.argv[2] || 2000);
const OUT = process.argv[3] || 'bench/results/scim.json';
const LOOKUPS = 200;
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const nova = await startNova();
try {
  const t = makeTenant(nova, 'scim-bench-' + Date.now(), 'users:read users:write');
  const tok = (await call(nova, 'POST', '/v1/scim/tokens', { tok: await token(nova, t), body: {} })).json.token;
  const scim = (method, path, body) => call(nova, method, '/scim/v2' + path, {
    tok, body, headers: body ? { 'content-type': 'application/scim+json' } : {},
  });
  const timed = async (fn) => {
    const t0 = process.hrtime.bigint();
    const r = await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status >= 300) throw new Error(`${r.status} ${r.text}`);
    return { r, ms };
  };
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { n: s.length, p50_ms: +q(0.5).toFixed(3), p99_ms: +q(0.99).toFixed(3), max_ms: +s[s.length - 1].toFixed(3) };
  };
  const create = [], ids = [];
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const { r, ms } = await timed(() => scim('POST', '/Users', {
      userName: `bench${i}@example.com`, externalId: `ext-${i}`, displayName: `Bench ${i}`, roles: [{ value: 'staff' }],
    }));
    create.push(ms);
    ids.push(r.json.id);
  }
  const createSecs = (Date.now() - t0) / 1000;
  const pick = (i) => (i * 7919) % N;
  const byName = [], byExt = [], page = [], patch = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const k = pick(i);
    const a = await timed(() => scim('GET', '/Users?filter=' + encodeURIComponent(`userName eq "bench${k}@example.com"`)));
    if (a.r.json.totalResults !== 1) throw new Error('userName eq missed');
    byName.push(a.ms);
    if (i < 20) {
      const b = await timed(() => scim('GET', '/Users?filter=' + encodeURIComponent(`externalId eq "ext-${k}"`)));
      if (b.r.json.totalResults !== 1) throw new Error('externalId eq missed');
      byExt.push(b.ms);
      page.push((await timed(() => scim('GET', `/Users?startIndex=${1 + k}&count=100`))).ms);
    }
    patch.push((await timed(() => scim('PATCH', '/Users/' + ids[k], {
      schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: i % 2 === 1 }],
    }))).ms);
  }
  const out = {
    scenario: 'scim', users: N, store: 'sqlite', control_plane: 'in-process',
    create: { ...stats(create), users_per_s: +(N / createSecs).toFixed(1) },
    filter_username_eq: stats(byName),
    filter_externalid_eq: stats(byExt),
    list_page_100: stats(page),
    patch_active: stats(patch),
    note: 'sequential requests on one connection; userName eq uses the email blind index, externalId eq the links table; a page (and any other filter) opens every user of the tenant',
  };
  writeFileSync(OUT, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
} finally {
  await nova.stop();
}
