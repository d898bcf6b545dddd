// The audit log against the real novad: every mutating route of the route table writes its
// entry (coverage 100%, seed 003 §8.1), GET /v1/audit pages and filters, each kind of
// tampering done directly in the SQLite file is named by `novactl audit verify`, an export
// checks with openssl alone, and nothing the suite's novad wrote holds a secret it used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { startNova, makeTenant, token, call } from './lib.mjs';
import { peopleAuditDrivers } from './people_audit.mjs';

const onSqlite = !process.env.NOVA_TEST_DATABASE_URL;
let nova, admin, adminTok, tenant, tenantTok;
const secrets = []; // every secret and token this suite handled

before(async () => {
  // Private addresses allowed: the Twilio status callback's driver sends through a stand-in
  // on this machine.
  nova = await startNova({ NOVA_WEBHOOK_ALLOW_PRIVATE: 'true' });
  admin = makeTenant(nova, 'audit-platform', 'platform:admin clients:read clients:write audit:read');
  adminTok = await token(nova, admin);
  tenant = makeTenant(nova, 'audit-tenant', 'clients:read clients:write audit:read');
  tenantTok = await token(nova, tenant);
  secrets.push(admin.secret, adminTok, tenant.secret, tenantTok);
});
after(async () => { await nova.stop(); });

async function entries(tok, query = '') {
  const out = [];
  let cursor = null;
  do {
    const r = await call(nova, 'GET', `/v1/audit?limit=3${query}${cursor ? '&cursor=' + cursor : ''}`, { tok });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.entries);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
}

// A session of `tenant`, minted by a backend client of its own with sdk:sessions.
let sdkBackend = null;
async function sdkSession() {
  if (!sdkBackend) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'sdk backend', '--scopes', 'sdk:sessions');
    assert.equal(c.code, 0, c.stderr);
    sdkBackend = { id: c.json.client_id, secret: c.json.client_secret };
    secrets.push(sdkBackend.secret);
  }
  const backendTok = await token(nova, sdkBackend);
  const r = await call(nova, 'POST', '/v1/sdk/sessions', { tok: backendTok, body: { subject: 'applicant-audit' } });
  assert.equal(r.status, 201, r.text);
  secrets.push(backendTok, r.json.access_token, r.json.refresh_token);
  return { ...r.json, backend: sdkBackend.id, backendTok };
}

// An API key of `tenant`, made by a client of its own holding api-keys:write.
let keyAdmin = null;
async function apiKey() {
  if (!keyAdmin) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'key admin', '--scopes', 'api-keys:write clients:read');
    assert.equal(c.code, 0, c.stderr);
    keyAdmin = { id: c.json.client_id, secret: c.json.client_secret };
    keyAdmin.tok = await token(nova, keyAdmin);
    secrets.push(keyAdmin.secret, keyAdmin.tok);
  }
  const r = await call(nova, 'POST', '/v1/api-keys', { tok: keyAdmin.tok, body: { purpose: 'audit', scopes: ['clients:read'] } });
  assert.equal(r.status, 201, r.text);
  secrets.push(r.json.secret);
  return { ...r.json, admin: keyAdmin };
}

// One driver per mutating operation of the route table: it makes the change as `tenant`'s
// client (or the platform admin) and says which entry must appear, in which tenant's chain.
// Operations that change no stored state say so here, with the reason.
// The OpenFGA API (/stores) as a client of `tenant` holding fga:read and fga:write.
let fgaClient = null;
const FGA_MODEL = {
  schema_version: '1.1',
  type_definitions: [{ type: 'user' }, {
    type: 'doc', relations: { viewer: { this: {} } },
    metadata: { relations: { viewer: { directly_related_user_types: [{ type: 'user' }] } } },
  }],
};
async function fgaStore() {
  if (!fgaClient) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'fga', '--scopes', 'fga:read fga:write');
    assert.equal(c.code, 0, c.stderr);
    fgaClient = { id: c.json.client_id, secret: c.json.client_secret };
    secrets.push(fgaClient.secret);
  }
  const tok = await token(nova, fgaClient);
  secrets.push(tok);
  const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'audit store' } });
  assert.equal(s.status, 201, s.text);
  return { tok, store: s.json.id, client: fgaClient.id };
}
async function fgaModel(f) {
  const m = await call(nova, 'POST', `/stores/${f.store}/authorization-models`, { tok: f.tok, body: FGA_MODEL });
  assert.equal(m.status, 201, m.text);
  return m.json.authorization_model_id;
}

// The core ledger as a client of `tenant` holding ledger:write: two accounts, one funded.
let ledgerClient = null;
async function ledger() {
  if (!ledgerClient) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'ledger', '--scopes', 'ledger:read ledger:write');
    assert.equal(c.code, 0, c.stderr);
    ledgerClient = { id: c.json.client_id, secret: c.json.client_secret };
    secrets.push(ledgerClient.secret);
  }
  const tok = await token(nova, ledgerClient);
  secrets.push(tok);
  const acc = async (body) => {
    const r = await call(nova, 'POST', '/v1/core/accounts', { tok, body: { currency: 'KES', ...body } });
    assert.equal(r.status, 201, r.text);
    return r.json.id;
  };
  const from = await acc({ type: 'treasury' }), to = await acc({ type: 'customer_wallet' });
  const post = async (extra = {}) => {
    const id = 'pst-' + Math.random().toString(36).slice(2);
    const r = await call(nova, 'POST', '/v1/core/postings', {
      tok, body: { id, entries: [{ account: from, direction: 'debit', amount: { currency: 'KES', value: '5.00' } }, { account: to, direction: 'credit', amount: { currency: 'KES', value: '5.00' } }], ...extra },
    });
    assert.equal(r.status, 201, r.text);
    return id;
  };
  return { tok, client: ledgerClient.id, from, to, post };
}

const READ_ONLY = {
  'POST /v1/core/statements': 'reads an account\'s entries and balances, changes nothing',
  'POST /v1/core/limits/check': 'reads an account\'s limits and usage, changes nothing',
  'POST /oauth/introspect': 'reads token state',
  'POST /stores/{store_id}/read': 'reads tuples',
  'POST /stores/{store_id}/check': 'evaluates, changes nothing',
  'POST /stores/{store_id}/batch-check': 'evaluates, changes nothing',
  'POST /stores/{store_id}/expand': 'evaluates, changes nothing',
  'POST /stores/{store_id}/list-objects': 'evaluates, changes nothing',
  'POST /stores/{store_id}/streamed-list-objects': 'evaluates, changes nothing',
  'POST /stores/{store_id}/list-users': 'evaluates, changes nothing',
  'POST /v1/workflows/{id}/simulate': 'replays a candidate workflow over recorded step results; stores nothing',
  'POST /v1/faces/compare': 'computes a face match from the two images it is sent; stores nothing (no image is kept)',
  'POST /v1/authz/decision': 'decides, changes nothing (a shadowed candidate may add a drift row, a decision log)',
  'POST /v1/authz/simulate': 'decides under a candidate version, changes nothing',
  'POST /access/v1/evaluation': 'decides (AuthZEN), changes nothing',
  'POST /access/v1/evaluations': 'decides (AuthZEN), changes nothing',
  ...Object.fromEntries(['POST', 'PUT', 'PATCH', 'DELETE']
    .map((m) => [`${m} /ext-authz/{path*}`, 'Envoy ext_authz: decides on the forwarded request, changes nothing'])),
  'POST /v1/liveness/challenges': 'issues a single-use nonce kept two minutes in the control plane; stores nothing',
  'POST /v1/liveness/verify': 'checks a burst of frames, consuming its nonce in the control plane; stores nothing (no image is kept)',
  'POST /v1/faces/search': 'searches the gallery with the face of the image it is sent; stores nothing',
};
// The decision point's lifecycle as a client of `tenant` holding fga:write and policy:write:
// a store and model, then a published version (a fresh one each call).
let authzClient = null;
async function policyVersion() {
  if (!authzClient) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'authz', '--scopes', 'fga:read fga:write policy:read policy:write');
    assert.equal(c.code, 0, c.stderr);
    authzClient = { id: c.json.client_id, secret: c.json.client_secret };
    secrets.push(authzClient.secret);
  }
  const tok = await token(nova, authzClient);
  secrets.push(tok);
  const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'authz store' } });
  const m = await call(nova, 'POST', `/stores/${s.json.id}/authorization-models`, { tok, body: FGA_MODEL });
  const p = await call(nova, 'POST', '/v1/authz/policies', { tok, body: { store_id: s.json.id, authorization_model_id: m.json.authorization_model_id, actions: { 'doc.read': { relation: 'viewer' } } } });
  assert.equal(p.status, 201, p.text);
  return { tok, version: p.json.version, client: authzClient.id };
}
// The verification gateway (issue 9) as a client of `tenant` holding its scopes.
let idvClient = null;
const IDV_WORKFLOW = { name: 'audit kyc', steps: [{ check: 'ocr' }, { check: 'mrz' }] };
async function idv() {
  if (!idvClient) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'idv', '--scopes', 'workflows:read workflows:write verifications:read verifications:write reviews:read reviews:write');
    assert.equal(c.code, 0, c.stderr);
    idvClient = { id: c.json.client_id, secret: c.json.client_secret };
    secrets.push(idvClient.secret);
  }
  const tok = await token(nova, idvClient);
  secrets.push(tok);
  const w = await call(nova, 'POST', '/v1/workflows', { tok, body: IDV_WORKFLOW });
  assert.equal(w.status, 201, w.text);
  return { tok, workflow: w.json.id, client: idvClient.id };
}

// A face enrolled in `tenant`'s gallery by a client of its own holding verifications:write
// (the largest face of a sample photo of the face-api package, as faces.test.mjs uses).
let faceClient = null;
async function enrolFace() {
  if (!faceClient) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'faces', '--scopes', 'verifications:write');
    assert.equal(c.code, 0, c.stderr);
    faceClient = { id: c.json.client_id, secret: c.json.client_secret };
    secrets.push(faceClient.secret);
  }
  const tok = await token(nova, faceClient);
  secrets.push(tok);
  const image = readFileSync('tools/models/node_modules/@vladmandic/face-api/demo/sample2.jpg').toString('base64');
  const r = await call(nova, 'POST', '/v1/faces/gallery', { tok, body: { subject: 'applicant-audit', image } });
  assert.equal(r.status, 201, r.text);
  return { tok, client: faceClient.id, id: r.json.id };
}
// Webhook endpoints and events (issue 9 item 6): a client of their own, and a client
// certificate and CA made with openssl (the receiver is never reached: auditing the
// configuration needs none).
let webhooks = null;
async function webhookClient() {
  if (!webhooks) {
    const c = nova.ctl('client', 'create', '--tenant', tenant.tenant, '--name', 'webhooks', '--scopes', 'webhooks:read webhooks:write');
    assert.equal(c.code, 0, c.stderr);
    const dir = mkdtempSync(join(tmpdir(), 'nova-audit-wh-'));
    const ossl = (...a) => { const r = spawnSync('openssl', a, { cwd: dir, encoding: 'utf8' }); assert.equal(r.status, 0, r.stderr); };
    for (const n of ['ca', 'client'])
      ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', n + '.key', '-out', n + '.pem', '-days', '2', '-subj', '/CN=audit ' + n);
    const key = readFileSync(join(dir, 'client.key'), 'utf8');
    webhooks = { id: c.json.client_id, secret: c.json.client_secret, cert: readFileSync(join(dir, 'client.pem'), 'utf8'), key, ca: readFileSync(join(dir, 'ca.pem'), 'utf8') };
    // the sealed key never shows in an entry (a line of its base64 as the needle)
    secrets.push(webhooks.secret, key.split('\n')[1]);
  }
  const tok = await token(nova, webhooks);
  secrets.push(tok);
  return { ...webhooks, tok };
}
async function webhookEndpoint() {
  const w = await webhookClient();
  const r = await call(nova, 'POST', '/v1/webhooks/endpoints', { tok: w.tok, body: { url: 'https://127.0.0.1:9/audit', events: ['verification.completed'], client_certificate: w.cert, client_key: w.key, ca_certificate: w.ca } });
  assert.equal(r.status, 201, r.text);
  for (const v of Object.values(r.json)) if (typeof v === 'string' && v.startsWith('whsec_')) secrets.push(v);
  return { w, id: r.json.id };
}

// An SMS channel whose API key (a secret the entries must not hold) is remembered.
async function notifyChannel() {
  const w = await webhookClient();
  const key = 'at-audit-key-' + randomBytes(16).toString('hex');
  secrets.push(key);
  const r = await call(nova, 'POST', '/v1/notifications/channels', { tok: w.tok, body: { type: 'sms', username: 'sandbox', api_key: key, to: ['+254711000001'], events: ['verification.completed'] } });
  assert.equal(r.status, 201, r.text);
  return { w, id: r.json.id };
}

const DRIVERS = {
  'POST /v1/webhooks/endpoints': async () => {
    const { w, id } = await webhookEndpoint();
    return { action: 'webhook.endpoint.create', actor: w.id, target: 'webhook_endpoint:' + id };
  },
  'POST /v1/webhooks/endpoints/{id}/rotate-secret': async () => {
    const { w, id } = await webhookEndpoint();
    const r = await call(nova, 'POST', `/v1/webhooks/endpoints/${id}/rotate-secret`, { tok: w.tok, body: { keep_previous: true } });
    assert.equal(r.status, 200, r.text);
    for (const v of Object.values(r.json)) if (typeof v === 'string' && v.startsWith('whsec_')) secrets.push(v);
    return { action: 'webhook.endpoint.rotate', actor: w.id, target: 'webhook_endpoint:' + id };
  },
  'DELETE /v1/webhooks/endpoints/{id}': async () => {
    const { w, id } = await webhookEndpoint();
    const r = await call(nova, 'DELETE', `/v1/webhooks/endpoints/${id}`, { tok: w.tok });
    assert.equal(r.status, 204, r.text);
    return { action: 'webhook.endpoint.delete', actor: w.id, target: 'webhook_endpoint:' + id };
  },
  'PATCH /v1/webhooks/endpoints/{id}': async () => {
    const { w, id } = await webhookEndpoint();
    const r = await call(nova, 'PATCH', `/v1/webhooks/endpoints/${id}`, { tok: w.tok, body: { enabled: false, client_key: w.key } });
    assert.equal(r.status, 200, r.text);
    return { action: 'webhook.endpoint.update', actor: w.id, target: 'webhook_endpoint:' + id };
  },
  'POST /v1/notifications/channels': async () => {
    const { w, id } = await notifyChannel();
    return { action: 'notify.channel.create', actor: w.id, target: 'notify_channel:' + id };
  },
  'PATCH /v1/notifications/channels/{id}': async () => {
    const { w, id } = await notifyChannel();
    const key = 'at-audit-key-' + randomBytes(16).toString('hex');
    secrets.push(key);
    const r = await call(nova, 'PATCH', `/v1/notifications/channels/${id}`, { tok: w.tok, body: { api_key: key, enabled: false } });
    assert.equal(r.status, 200, r.text);
    return { action: 'notify.channel.update', actor: w.id, target: 'notify_channel:' + id };
  },
  'DELETE /v1/notifications/channels/{id}': async () => {
    const { w, id } = await notifyChannel();
    const r = await call(nova, 'DELETE', `/v1/notifications/channels/${id}`, { tok: w.tok });
    assert.equal(r.status, 204, r.text);
    return { action: 'notify.channel.delete', actor: w.id, target: 'notify_channel:' + id };
  },
  'POST /webhooks/twilio/status/{tenant}/{channel}': async () => {
    // A Twilio channel sends a decided verification's event through a stand-in of Twilio's
    // Messages resource (201 with a MessageSid); Twilio's status callback for that message,
    // signed as Twilio signs (HMAC-SHA1 over the URL and the sorted parameters with the auth
    // token), moves it and writes the entry, actor "twilio".
    const w = await webhookClient();
    const account = 'AC' + randomBytes(16).toString('hex');
    const authToken = randomBytes(16).toString('hex');
    secrets.push(authToken);
    const sids = [];
    const tw = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const sid = 'SM' + randomBytes(16).toString('hex');
        sids.push(sid);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sid, status: 'queued', account_sid: account }));
      });
    });
    await new Promise((ok) => tw.listen(0, '127.0.0.1', ok));
    try {
      const ch = await call(nova, 'POST', '/v1/notifications/channels', { tok: w.tok, body: { type: 'sms', provider: 'twilio', account_sid: account,
        auth_token: authToken, from: '+15005550006', to: ['+254711000009'], base_url: `http://127.0.0.1:${tw.address().port}`,
        events: ['verification.completed', 'verification.failed', 'verification.review_required'] } });
      assert.equal(ch.status, 201, ch.text);
      const url = `${nova.base}/webhooks/twilio/status/${tenant.tenant}/${ch.json.id}`;
      const p = await call(nova, 'PATCH', `/v1/notifications/channels/${ch.json.id}`, { tok: w.tok, body: { status_callback: url } });
      assert.equal(p.status, 200, p.text);
      const v = await idv();
      const jpg = readFileSync('tools/models/node_modules/@vladmandic/face-api/demo/sample1.jpg').toString('base64');
      const d = await call(nova, 'POST', '/v1/verifications', { tok: v.tok, body: { workflow_id: v.workflow, mode: 'sync', images: { document_front: jpg } } });
      assert.equal(d.status, 201, d.text);
      for (let i = 0; i < 300 && sids.length === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
      assert.equal(sids.length, 1, 'the SMS went out');
      const params = { AccountSid: account, ApiVersion: '2010-04-01', MessageSid: sids[0], MessageStatus: 'delivered', To: '+254711000009' };
      const sig = createHmac('sha1', authToken).update(url + Object.keys(params).sort().map((k) => k + params[k]).join('')).digest('base64');
      // The dispatcher records the MessageSid just after Twilio's reply: poll for it.
      let r;
      for (let i = 0; i < 50; i++) {
        r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig }, body: new URLSearchParams(params) });
        if (r.status !== 404) break;
        await new Promise((ok) => setTimeout(ok, 100));
      }
      assert.equal(r.status, 200, await r.text());
      return { action: 'sms.status', actor: 'twilio', target: 'sms_message:' + sids[0] };
    } finally {
      tw.close();
    }
  },
  'POST /v1/events/{id}/replay': async () => {
    // a decided verification writes its event (with or without endpoints)
    const v = await idv();
    const jpg = readFileSync('tools/models/node_modules/@vladmandic/face-api/demo/sample1.jpg').toString('base64');
    const d = await call(nova, 'POST', '/v1/verifications', { tok: v.tok, body: { workflow_id: v.workflow, mode: 'sync', images: { document_front: jpg } } });
    assert.equal(d.status, 201, d.text);
    const w = await webhookClient();
    const list = await call(nova, 'GET', '/v1/events', { tok: w.tok });
    assert.equal(list.status, 200, list.text);
    const ev = (list.json.events || list.json.data || []).find((e) => JSON.stringify(e).includes(d.json.id)) || (list.json.events || [])[0];
    assert.ok(ev, list.text);
    const r = await call(nova, 'POST', `/v1/events/${ev.id}/replay`, { tok: w.tok });
    assert.ok(r.status === 200 || r.status === 202, r.text);
    return { action: 'event.replay', actor: w.id, target: 'event:' + ev.id };
  },
  'POST /v1/faces/gallery': async () => {
    const f = await enrolFace();
    return { action: 'face.enrol', actor: f.client, target: 'face:' + f.id };
  },
  'DELETE /v1/faces/gallery/{id}': async () => {
    const f = await enrolFace();
    const r = await call(nova, 'DELETE', '/v1/faces/gallery/' + f.id, { tok: f.tok });
    assert.equal(r.status, 204, r.text);
    return { action: 'face.delete', actor: f.client, target: 'face:' + f.id };
  },
  'POST /v1/workflows': async () => {
    const v = await idv();
    return { action: 'workflow.create', actor: v.client, target: 'workflow:' + v.workflow };
  },
  'PUT /v1/workflows/{id}': async () => {
    const v = await idv();
    const r = await call(nova, 'PUT', '/v1/workflows/' + v.workflow, { tok: v.tok, body: IDV_WORKFLOW });
    assert.equal(r.status, 200, r.text);
    return { action: 'workflow.update', actor: v.client, target: 'workflow:' + v.workflow };
  },
  'PUT /v1/prices': async () => {
    const v = await idv();
    const r = await call(nova, 'PUT', '/v1/prices', { tok: v.tok, body: { prices: { ocr: 4 } } });
    assert.equal(r.status, 200, r.text);
    return { action: 'idv.prices.update', actor: v.client, target: 'prices:' + tenant.tenant };
  },
  'POST /v1/reviews/{id}/decision': async () => {
    // OCR of a photo with no document fails; on_fail review sends it to a reviewer.
    const v = await idv();
    const w = await call(nova, 'POST', '/v1/workflows', { tok: v.tok, body: { name: 'audit review', steps: [{ check: 'ocr', on_fail: 'review' }] } });
    assert.equal(w.status, 201, w.text);
    const jpg = readFileSync('tools/models/node_modules/@vladmandic/face-api/demo/sample1.jpg').toString('base64');
    const r = await call(nova, 'POST', '/v1/verifications', { tok: v.tok, body: { workflow_id: w.json.id, mode: 'sync', images: { document_front: jpg } } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.decision, 'review_required', r.text);
    const d = await call(nova, 'POST', `/v1/reviews/${r.json.id}/decision`, { tok: v.tok, body: { reviewer: 'auditor', decision: 'rejected', reason: 'not a document' } });
    assert.equal(d.status, 200, d.text);
    return { action: 'review.decide', actor: v.client, target: 'verification:' + r.json.id };
  },
  'POST /v1/verifications': async () => {
    const v = await idv();
    const jpg = readFileSync('tools/models/node_modules/@vladmandic/face-api/demo/sample1.jpg').toString('base64');
    const r = await call(nova, 'POST', '/v1/verifications', { tok: v.tok, body: { workflow_id: v.workflow, images: { document_front: jpg } } });
    assert.equal(r.status, 202, r.text);
    return { action: 'verification.create', actor: v.client, target: 'verification:' + r.json.id };
  },
  'POST /v1/authz/policies': async () => {
    const p = await policyVersion();
    return { action: 'policy.publish', actor: p.client, target: 'policy:' + p.version };
  },
  'POST /v1/authz/policies/{version}/promote': async () => {
    const p = await policyVersion();
    const r = await call(nova, 'POST', `/v1/authz/policies/${p.version}/promote`, { tok: p.tok });
    assert.equal(r.status, 200, r.text);
    return { action: 'policy.promote', actor: p.client, target: 'policy:' + p.version };
  },
  'POST /v1/authz/rollback': async () => {
    const a = await policyVersion();
    assert.equal((await call(nova, 'POST', `/v1/authz/policies/${a.version}/promote`, { tok: a.tok })).status, 200);
    const b = await policyVersion();
    assert.equal((await call(nova, 'POST', `/v1/authz/policies/${b.version}/promote`, { tok: b.tok })).status, 200);
    const r = await call(nova, 'POST', '/v1/authz/rollback', { tok: b.tok });
    assert.equal(r.status, 200, r.text);
    return { action: 'policy.rollback', actor: b.client, target: 'policy:' + a.version };
  },
  'PUT /v1/authz/shadow': async () => {
    const p = await policyVersion();
    const r = await call(nova, 'PUT', '/v1/authz/shadow', { tok: p.tok, body: { version: p.version, percent: 10 } });
    assert.equal(r.status, 200, r.text);
    return { action: 'policy.shadow', actor: p.client, target: 'policy:' + p.version };
  },
  'POST /stores': async () => {
    const f = await fgaStore();
    return { action: 'fga_store.create', actor: f.client, target: 'fga_store:' + f.store };
  },
  'DELETE /stores/{store_id}': async () => {
    const f = await fgaStore();
    const r = await call(nova, 'DELETE', '/stores/' + f.store, { tok: f.tok });
    assert.equal(r.status, 204, r.text);
    return { action: 'fga_store.delete', actor: f.client, target: 'fga_store:' + f.store };
  },
  'POST /stores/{store_id}/authorization-models': async () => {
    const f = await fgaStore();
    const id = await fgaModel(f);
    return { action: 'fga_model.create', actor: f.client, target: 'fga_model:' + id };
  },
  'POST /stores/{store_id}/write': async () => {
    const f = await fgaStore();
    await fgaModel(f);
    const r = await call(nova, 'POST', `/stores/${f.store}/write`, { tok: f.tok, body: { writes: { tuple_keys: [{ user: 'user:a', relation: 'viewer', object: 'doc:1' }] } } });
    assert.equal(r.status, 200, r.text);
    return { action: 'fga_tuples.write', actor: f.client, target: 'fga_store:' + f.store };
  },
  'PUT /stores/{store_id}/assertions/{authorization_model_id}': async () => {
    const f = await fgaStore();
    const id = await fgaModel(f);
    const r = await call(nova, 'PUT', `/stores/${f.store}/assertions/${id}`, { tok: f.tok, body: { assertions: [{ tuple_key: { user: 'user:a', relation: 'viewer', object: 'doc:1' }, expectation: false }] } });
    assert.equal(r.status, 204, r.text);
    return { action: 'fga_assertions.write', actor: f.client, target: 'fga_model:' + id };
  },
  'POST /v1/tenants': async () => {
    const r = await call(nova, 'POST', '/v1/tenants', { tok: adminTok, body: { name: 'audit-made-' + Date.now() } });
    assert.equal(r.status, 201, r.text);
    return { chainOf: r.json.id, action: 'tenant.create', actor: admin.id, target: 'tenant:' + r.json.id };
  },
  'POST /v1/clients': async () => {
    const r = await call(nova, 'POST', '/v1/clients', { tok: tenantTok, body: { name: 'made', scopes: ['clients:read'] } });
    assert.equal(r.status, 201, r.text);
    secrets.push(r.json.client_secret);
    return { action: 'client.create', actor: tenant.id, target: 'client:' + r.json.client_id };
  },
  'DELETE /v1/clients/{id}': async () => {
    const c = await call(nova, 'POST', '/v1/clients', { tok: tenantTok, body: { name: 'doomed', scopes: ['clients:read'] } });
    secrets.push(c.json.client_secret);
    const r = await call(nova, 'DELETE', '/v1/clients/' + c.json.client_id, { tok: tenantTok });
    assert.equal(r.status, 204, r.text);
    return { action: 'client.revoke', actor: tenant.id, target: 'client:' + c.json.client_id };
  },
  // SDK sessions: minted by a backend holding sdk:sessions, refreshed by the app (the
  // session is the actor), ended by the backend.
  'POST /v1/sdk/sessions': async () => {
    const ses = await sdkSession();
    return { action: 'session.create', actor: ses.backend, target: 'session:' + ses.id };
  },
  'POST /oauth/token': async () => {
    // client_credentials stores nothing; the refresh_token grant rotates (and is audited).
    const ses = await sdkSession();
    const r = await fetch(nova.base + '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: ses.refresh_token }),
    });
    const j = await r.json();
    assert.equal(r.status, 200, JSON.stringify(j));
    secrets.push(j.access_token, j.refresh_token);
    return { action: 'session.refresh', actor: ses.id, target: 'session:' + ses.id };
  },
  'DELETE /v1/sdk/sessions/{id}': async () => {
    const ses = await sdkSession();
    const r = await call(nova, 'DELETE', '/v1/sdk/sessions/' + ses.id, { tok: ses.backendTok });
    assert.equal(r.status, 204, r.text);
    return { action: 'session.revoke', actor: ses.backend, target: 'session:' + ses.id };
  },
  'POST /v1/keys/rotate': async () => {
    const k = makeTenant(nova, 'audit-keys-' + Date.now(), 'keys:write');
    const tok = await token(nova, k);
    secrets.push(k.secret, tok);
    const r = await call(nova, 'POST', '/v1/keys/rotate', { tok, body: { grace_seconds: 60 } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: k.tenant, action: 'key.rotate', actor: k.id, target: 'key:' + r.json.kid };
  },
  'PUT /v1/kill-switches/{action}': async () => {
    const k = makeTenant(nova, 'audit-ks-' + Date.now(), 'killswitches:write');
    const tok = await token(nova, k);
    secrets.push(k.secret, tok);
    const r = await call(nova, 'PUT', '/v1/kill-switches/disbursement', { tok, body: { active: true, region: 'KE', reason: 'audit drill' } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: k.tenant, action: 'killswitch.set', actor: k.id, target: 'killswitch:KE:disbursement' };
  },
  'PUT /v1/tenants/{id}/security': async () => {
    const k = makeTenant(nova, 'audit-sec-' + Date.now(), 'security:write');
    const tok = await token(nova, k);
    secrets.push(k.secret, tok);
    const r = await call(nova, 'PUT', `/v1/tenants/${k.tenant}/security`, { tok, body: { require_dpop: false, session_timeout_minutes: 30 } });
    assert.equal(r.status, 200, r.text);
    return { chainOf: k.tenant, action: 'tenant_security.update', actor: k.id, target: 'tenant:' + k.tenant };
  },
  'POST /v1/api-keys': async () => {
    const k = await apiKey();
    return { action: 'api_key.create', actor: k.admin.id, target: 'api_key:' + k.id };
  },
  'POST /v1/api-keys/{id}/rotate': async () => {
    const k = await apiKey();
    const r = await call(nova, 'POST', `/v1/api-keys/${k.id}/rotate`, { tok: k.admin.tok, body: { overlap_seconds: 60 } });
    assert.equal(r.status, 200, r.text);
    secrets.push(r.json.secret);
    return { action: 'api_key.rotate', actor: k.admin.id, target: 'api_key:' + k.id };
  },
  'DELETE /v1/api-keys/{id}': async () => {
    const k = await apiKey();
    const r = await call(nova, 'DELETE', '/v1/api-keys/' + k.id, { tok: k.admin.tok });
    assert.equal(r.status, 204, r.text);
    return { action: 'api_key.revoke', actor: k.admin.id, target: 'api_key:' + k.id };
  },
  'POST /v1/core/accounts': async () => {
    const l = await ledger();
    return { action: 'ledger.account.create', actor: l.client, target: 'account:' + l.to };
  },
  'POST /v1/core/postings:batch': async () => {
    const l = await ledger();
    const id = 'pst-batch-' + Math.random().toString(36).slice(2);
    const r = await call(nova, 'POST', '/v1/core/postings:batch', {
      tok: l.tok, body: { postings: [{ id, entries: [{ account: l.from, direction: 'debit', amount: { currency: 'KES', value: '1' } }, { account: l.to, direction: 'credit', amount: { currency: 'KES', value: '1' } }] }] },
    });
    assert.equal(r.status, 201, r.text);
    return { action: 'ledger.posting.batch', actor: l.client, target: 'posting:' + id };
  },
  'PUT /v1/core/limits/tiers/{tier}': async () => {
    const l = await ledger();
    const r = await call(nova, 'PUT', '/v1/core/limits/tiers/audit', { tok: l.tok, body: { currency: 'KES', daily_count: 9 } });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.limits.set', actor: l.client, target: 'limits:tier:audit' };
  },
  'PUT /v1/core/accounts/{id}/limits': async () => {
    const l = await ledger();
    const r = await call(nova, 'PUT', `/v1/core/accounts/${l.to}/limits`, { tok: l.tok, body: { currency: 'KES', daily_count: 9 } });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.limits.set', actor: l.client, target: 'limits:account:' + l.to };
  },
  'PUT /v1/core/products/{id}': async () => {
    const l = await ledger();
    const r = await call(nova, 'PUT', '/v1/core/products/audit-save', { tok: l.tok, body: { kind: 'savings', currency: 'KES', rate: '0.05', day_count: 'ACT/365', interest_account: l.from, accrual_account: l.to } });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.product.set', actor: l.client, target: 'product:audit-save' };
  },
  'POST /v1/core/accruals': async () => {
    const l = await ledger();
    const date = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
    const r = await call(nova, 'POST', '/v1/core/accruals', { tok: l.tok, body: { date } });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.accrual.run', actor: l.client, target: 'accrual:' + date };
  },
  'PUT /v1/core/accounts/{id}/status': async () => {
    const l = await ledger();
    const r = await call(nova, 'PUT', `/v1/core/accounts/${l.to}/status`, { tok: l.tok, body: { status: 'frozen' } });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.account.status', actor: l.client, target: 'account:' + l.to };
  },
  'POST /v1/core/postings': async () => {
    const l = await ledger();
    return { action: 'ledger.posting.create', actor: l.client, target: 'posting:' + (await l.post()) };
  },
  'POST /v1/core/postings/{id}/post': async () => {
    const l = await ledger();
    const id = await l.post({ pending: true });
    const r = await call(nova, 'POST', `/v1/core/postings/${id}/post`, { tok: l.tok });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.hold.post', actor: l.client, target: 'posting:' + id };
  },
  'POST /v1/core/postings/{id}/void': async () => {
    const l = await ledger();
    const id = await l.post({ pending: true });
    const r = await call(nova, 'POST', `/v1/core/postings/${id}/void`, { tok: l.tok });
    assert.equal(r.status, 200, r.text);
    return { action: 'ledger.hold.void', actor: l.client, target: 'posting:' + id };
  },
  'POST /v1/core/postings/{id}/reverse': async () => {
    const l = await ledger();
    const id = await l.post();
    const r = await call(nova, 'POST', `/v1/core/postings/${id}/reverse`, { tok: l.tok, body: { id: id + '-rev' } });
    assert.equal(r.status, 201, r.text);
    return { action: 'ledger.posting.reverse', actor: l.client, target: 'posting:' + id + '-rev' };
  },
  'POST /oauth/revoke': async () => {
    const t = await token(nova, tenant);
    secrets.push(t);
    const r = await fetch(nova.base + '/oauth/revoke', {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${tenant.id}:${tenant.secret}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: t }),
    });
    assert.equal(r.status, 200);
    const jti = JSON.parse(Buffer.from(t.split('.')[1], 'base64url')).jti;
    return { action: 'token.revoke', actor: tenant.id, target: 'token:' + jti };
  },
};
// People (issue 11): their drivers live in people_audit.mjs.
const PEOPLE = peopleAuditDrivers(() => nova, secrets);
Object.assign(DRIVERS, PEOPLE.drivers);
Object.assign(READ_ONLY, PEOPLE.readOnly);

test('every mutating route writes its audit entry (coverage 100%)', async () => {
  const doc = (await call(nova, 'GET', '/openapi.json')).json;
  const mutating = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE'])
      if (item[m.toLowerCase()]) mutating.push(`${m} ${path}`);
  assert.ok(mutating.length >= 5);
  const missing = mutating.filter((k) => !DRIVERS[k] && !READ_ONLY[k]);
  assert.deepEqual(missing, [], 'mutating routes with no audit check: write their entry and add a driver here');
  for (const key of Object.keys(DRIVERS)) {
    if (!mutating.includes(key)) continue;
    const want = await DRIVERS[key]();
    // The chain the entry joins: the changed tenant's. Read it as its own client if it is
    // another tenant (a fresh one: novactl is the operator there).
    let got;
    if (want.chainOf) {
      const v = nova.ctl('audit', 'export', '--tenant', want.chainOf, '--out', nova.dir);
      assert.equal(v.code, 0, v.stderr);
      got = readFileSync(join(nova.dir, `audit-${want.chainOf}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    } else {
      got = await entries(tenantTok);
    }
    const e = got.find((x) => x.action === want.action && x.target === want.target);
    assert.ok(e, `${key}: no ${want.action} entry on ${want.target}`);
    assert.equal(e.actor, want.actor, key);
    assert.equal(e.decision, 'allow');
    assert.match(e.row_hash, /^[0-9a-f]{64}$/);
  }
});

test('GET /v1/audit pages in chain order, filters, and needs audit:read', async () => {
  const all = await entries(tenantTok);
  assert.ok(all.length >= 2);
  all.forEach((e, i) => {
    assert.equal(e.seq, i + 1);
    if (i > 0) assert.equal(e.prev_hash, all[i - 1].row_hash);
  });
  assert.equal(all[0].action, 'tenant.create');
  assert.equal(all[0].actor, 'novactl');
  const creates = await entries(tenantTok, '&action=client.create');
  assert.ok(creates.length >= 1 && creates.every((e) => e.action === 'client.create'));
  assert.equal((await entries(tenantTok, '&actor=nobody')).length, 0);
  assert.equal((await entries(tenantTok, '&from=2000-01-01&to=2000-01-02')).length, 0);
  assert.equal((await call(nova, 'GET', '/v1/audit?limit=0', { tok: tenantTok })).status, 400);
  assert.equal((await call(nova, 'GET', '/v1/audit?from=soon', { tok: tenantTok })).status, 400);
  const other = makeTenant(nova, 'audit-noscope', 'clients:read');
  const otherTok = await token(nova, other);
  secrets.push(other.secret, otherTok);
  assert.equal((await call(nova, 'GET', '/v1/audit', { tok: otherTok })).status, 403);
  // Another tenant's entries are not visible.
  const mine = await entries(adminTok);
  assert.ok(mine.every((e) => !all.some((x) => x.id === e.id)));
  const m = await call(nova, 'GET', '/metrics', { headers: {} });
  assert.equal(m.status, 401); // the counter is on /metrics behind the operator token
});

function sql(statements) {
  const r = spawnSync('sqlite3', [join(nova.dir, 'nova.db')], { input: statements, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const TAMPER = {
  edited: (t) => `UPDATE audit_log SET target = 'client:cli_evil' WHERE tenant_id = '${t}' AND seq = 3;`,
  deleted: (t) => `DELETE FROM audit_log WHERE tenant_id = '${t}' AND seq = 2;`,
  inserted: (t) => `INSERT INTO audit_log SELECT 'aud_forged', tenant_id, seq + 1, ts, actor, action,
      target, decision, attrs, row_hash, row_hash FROM audit_log WHERE tenant_id = '${t}' AND seq = 5;`,
  reordered: (t) => `UPDATE audit_log SET seq = 100 WHERE tenant_id = '${t}' AND seq = 3;
      UPDATE audit_log SET seq = 3 WHERE tenant_id = '${t}' AND seq = 4;
      UPDATE audit_log SET seq = 4 WHERE tenant_id = '${t}' AND seq = 100;`,
  truncated: (t) => `DELETE FROM audit_log WHERE tenant_id = '${t}' AND seq >= 4;`,
};

for (const [kind, change] of Object.entries(TAMPER)) {
  test(`tampering (${kind}) in the database file is detected and named`, { skip: !onSqlite && 'SQLite file only' }, async () => {
    const victim = makeTenant(nova, 'audit-victim-' + kind, 'clients:read clients:write audit:read');
    secrets.push(victim.secret);
    const vt = await token(nova, victim);
    secrets.push(vt);
    for (let i = 0; i < 3; i++) {
      const r = await call(nova, 'POST', '/v1/clients', { tok: vt, body: { name: 'c' + i, scopes: ['clients:read'] } });
      assert.equal(r.status, 201);
      secrets.push(r.json.client_secret);
    }
    let v = nova.ctl('audit', 'verify', '--tenant', victim.tenant);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.equal(v.json.tenants[0].result, 'intact');
    assert.equal(v.json.tenants[0].entries, 5);
    sql(change(victim.tenant));
    v = nova.ctl('audit', 'verify', '--tenant', victim.tenant);
    assert.equal(v.code, 9, v.stdout + v.stderr);
    assert.equal(v.json.intact, false);
    assert.equal(v.json.tenants[0].result, kind, v.json.tenants[0].detail);
    assert.ok(v.json.tenants[0].position >= 2);
    // Whole-deployment verify names the broken tenant too, and only it.
    const all = nova.ctl('audit', 'verify');
    assert.equal(all.code, 9);
    const bad = all.json.tenants.filter((t) => t.result !== 'intact').map((t) => t.tenant_id);
    assert.ok(bad.includes(victim.tenant));
    assert.ok(!bad.includes(tenant.tenant) && !bad.includes(admin.tenant));
  });
}

test('an export checks with sha256sum and openssl alone', () => {
  const r = nova.ctl('audit', 'export', '--tenant', tenant.tenant, '--out', nova.dir);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(r.json.manifest, 'utf8'));
  const sum = spawnSync('sha256sum', [r.json.jsonl], { encoding: 'utf8' }).stdout.split(' ')[0];
  assert.equal(sum, m.file_sha256);
  const ok = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', r.json.public_key,
    '-rawin', '-in', r.json.manifest, '-sigfile', r.json.signature], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(m.last_hash, m.head_hash);
  // A changed manifest no longer verifies.
  writeFileSync(r.json.manifest, readFileSync(r.json.manifest, 'utf8').replace(/"count": \d+/, '"count": 1'));
  const bad = spawnSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', r.json.public_key,
    '-rawin', '-in', r.json.manifest, '-sigfile', r.json.signature], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
});

test('no secret or token the suite used is in anything novad wrote', { skip: !onSqlite && 'reads the SQLite file' }, () => {
  const written = nova.logs() + sql('.dump');
  assert.ok(written.includes('audit_log'));
  assert.ok(secrets.length >= 10);
  for (const s of secrets) {
    assert.ok(s.length >= 32);
    assert.ok(!written.includes(s), 'a secret or token reached the logs or the database');
    // Nor any long piece of it (a token's signature, a secret's half).
    assert.ok(!written.includes(s.slice(-32)), 'part of a secret or token was written');
  }
});
