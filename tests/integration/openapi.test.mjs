// docs/openapi.json against the real novad: the document the server serves is OpenAPI 3.1,
// every operation it lists is routed, every route the server has is listed (with the same
// methods), and what the server answers matches the documented statuses and schemas.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { startNova, makeTenant, token, call } from './lib.mjs';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const METRICS = 'metrics-token-for-openapi-tests';
let nova, doc, issuer;

before(async () => {
  // Every optional route on, so that each documented operation can be exercised.
  nova = await startNova({ NOVA_METRICS_TOKEN: METRICS, NOVA_JWKS_COMBINED: 'true' });
  issuer = makeTenant(nova, 'oa-issuer', 'clients:read');
  const r = await call(nova, 'GET', '/openapi.json');
  assert.equal(r.status, 200, r.text);
  doc = r.json;
});
after(async () => { await nova.stop(); });

// ---- the document ----

function deref(node) {
  while (node && typeof node.$ref === 'string') {
    assert.match(node.$ref, /^#\//, 'only local references');
    node = node.$ref.slice(2).split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce((o, k) => (o === undefined ? undefined : o[k]), doc);
    assert.ok(node !== undefined, 'dangling $ref');
  }
  return node;
}

// Every (path, METHOD, operation) of the document.
function operations() {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const m of METHODS)
      if (item[m.toLowerCase()]) out.push({ path, method: m, op: item[m.toLowerCase()] });
  return out;
}

// Protected by any bearer scheme: access tokens (bearerAuth) or the metrics token.
function isProtected(op) {
  return (op.security ?? doc.security ?? []).some((req) => Object.keys(req).some(
    (name) => doc.components.securitySchemes[name]?.scheme === 'bearer'));
}

// A concrete path for a pattern: any value will do for a {param}, but a tenant's public
// routes (JWKS, metadata) need a real tenant to answer 200.
const concrete = (path) => (path.startsWith('/v1/')
  ? path.replace(/\{[^}]+\}/g, 'cli_AAAAAAAAAAAAAAAAAAAAAA')
  : path.replace(/\{[^}]+\}/g, issuer.tenant));

// ---- a small JSON Schema (2020-12) checker for the keywords the document uses ----
// An unknown keyword is an error, so the document cannot use one this check silently skips.

const ANNOTATIONS = new Set(['description', 'examples', 'example', 'format', 'title', 'then', 'else']);
const KEYWORDS = new Set([...ANNOTATIONS, '$ref', 'allOf', 'if', 'type', 'const', 'enum', 'required',
  'properties', 'additionalProperties', 'maxProperties', 'items', 'minItems', 'maxItems', 'minLength',
  'maxLength', 'pattern', 'minimum', 'maximum']);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const TYPES = {
  object: isObject,
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  integer: Number.isInteger,
  number: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
};

function validate(schema, v, at = '$', errs = []) {
  if (schema === true) return errs;
  if (schema === false) {
    errs.push(`${at}: not allowed`);
    return errs;
  }
  const len = (s) => [...s].length;
  for (const [k, s] of Object.entries(schema)) {
    switch (k) {
    case '$ref': validate(deref(schema), v, at, errs); break;
    case 'allOf': for (const sub of s) validate(sub, v, at, errs); break;
    case 'if': {
      const branch = validate(s, v, at).length === 0 ? schema.then : schema.else;
      if (branch !== undefined) validate(branch, v, at, errs);
      break;
    }
    case 'type':
      if (![].concat(s).some((t) => TYPES[t](v))) errs.push(`${at}: not ${s}`);
      break;
    case 'const': if (!isDeepStrictEqual(v, s)) errs.push(`${at}: not ${JSON.stringify(s)}`); break;
    case 'enum': if (!s.some((e) => isDeepStrictEqual(v, e))) errs.push(`${at}: not in ${s}`); break;
    case 'required':
      if (isObject(v)) for (const m of s) if (!Object.hasOwn(v, m)) errs.push(`${at}: no ${m}`);
      break;
    case 'properties':
      if (isObject(v))
        for (const [m, ms] of Object.entries(s)) if (Object.hasOwn(v, m)) validate(ms, v[m], `${at}.${m}`, errs);
      break;
    case 'additionalProperties':
      if (isObject(v))
        for (const m of Object.keys(v))
          if (!Object.hasOwn(schema.properties ?? {}, m)) validate(s, v[m], `${at}.${m}`, errs);
      break;
    case 'maxProperties': if (isObject(v) && Object.keys(v).length > s) errs.push(`${at}: too many members`); break;
    case 'items': if (Array.isArray(v)) v.forEach((x, i) => validate(s, x, `${at}[${i}]`, errs)); break;
    case 'minItems': if (Array.isArray(v) && v.length < s) errs.push(`${at}: fewer than ${s} items`); break;
    case 'maxItems': if (Array.isArray(v) && v.length > s) errs.push(`${at}: more than ${s} items`); break;
    case 'minLength': if (typeof v === 'string' && len(v) < s) errs.push(`${at}: shorter than ${s}`); break;
    case 'maxLength': if (typeof v === 'string' && len(v) > s) errs.push(`${at}: longer than ${s}`); break;
    case 'pattern': if (typeof v === 'string' && !new RegExp(s, 'u').test(v)) errs.push(`${at}: !~ ${s}`); break;
    case 'minimum': if (typeof v === 'number' && v < s) errs.push(`${at}: < ${s}`); break;
    case 'maximum': if (typeof v === 'number' && v > s) errs.push(`${at}: > ${s}`); break;
    default:
      if (!ANNOTATIONS.has(k)) throw new Error(`schema keyword ${k} (at ${at}) is not checked`);
    }
  }
  return errs;
}

function opFor(method, pattern) {
  const op = doc.paths[pattern]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${pattern} is not in the document`);
  return op;
}

// Asserts that r (from call()) is a documented answer of method+pattern: its status, content
// type and body schema, and for problems that instance is the request id.
function conforms(method, pattern, r) {
  const what = `${method} ${pattern} -> ${r.status}`;
  const resp = deref(opFor(method, pattern).responses[String(r.status)]);
  assert.ok(resp, `${what} is not documented: ${r.text}`);
  if (!resp.content) {
    assert.equal(r.text, '', `${what}: documented without a body`);
    return;
  }
  const ct = r.headers.get('content-type');
  const media = resp.content[ct];
  assert.ok(media, `${what}: content type ${ct} is not documented (${Object.keys(resp.content)})`);
  const body = ct.startsWith('text/') ? r.text : r.json;
  assert.deepEqual(validate(media.schema, body), [], `${what}: body does not match: ${r.text}`);
  for (const [name, h] of Object.entries(resp.headers ?? {})) {
    const want = deref(h).schema?.const;
    if (want !== undefined && r.headers.get(name) !== null) assert.equal(r.headers.get(name), want, `${what}: ${name}`);
  }
  if (ct === 'application/problem+json') assert.equal(body.instance, r.headers.get('x-req-id'));
}

// ---- tests ----

test('the served document is OpenAPI 3.1 and self-consistent', () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.ok(doc.info.title && doc.info.version);
  const ops = operations();
  assert.ok(ops.length >= 15, 'every route is described');
  const ids = ops.map((o) => o.op.operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  (function walk(node) {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isObject(node)) {
      if (typeof node.$ref === 'string') deref(node);
      Object.values(node).forEach(walk);
    }
  })(doc);
  for (const { path, method, op } of ops) {
    assert.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${method} ${path} has a success`);
    for (const req of op.security ?? [])
      for (const name of Object.keys(req)) assert.ok(doc.components.securitySchemes[name], name);
    if (isProtected(op)) {
      assert.ok(op.responses['401'], `${method} ${path} documents 401`);
      const scopes = op.security.flatMap((req) => req.bearerAuth ?? []);
      for (const s of scopes) assert.ok(doc.components.schemas.Scope.enum.includes(s), s);
      if (scopes.length) assert.ok(op.responses['403'], `${method} ${path} documents 403`);
    }
  }
  // Every schema uses only keywords validate() checks.
  const schemas = [...Object.values(doc.components.schemas)];
  for (const { op } of ops)
    for (const r of [...Object.values(op.responses), op.requestBody ?? {}])
      for (const media of Object.values(deref(r).content ?? {})) schemas.push(media.schema);
  (function keywords(s) {
    if (!isObject(s)) return;
    for (const k of Object.keys(s)) assert.ok(KEYWORDS.has(k), `schema keyword ${k} is not checked`);
    Object.values(s.properties ?? {}).forEach(keywords);
    [s.items, s.additionalProperties, s.if, s.then, s.else, ...(s.allOf ?? [])].forEach(keywords);
  })({ allOf: schemas });
});

test('every documented operation is routed; without credentials protected ones answer 401', async () => {
  for (const { path, method, op } of operations()) {
    const r = await call(nova, method, concrete(path));
    const what = `${method} ${path} -> ${r.status}`;
    // A public route's own 404 (an unknown IdP under the dummy ids) names its code; the
    // router's is not_found.
    assert.ok(!(r.status === 404 && (r.json?.code ?? 'not_found') === 'not_found') && r.status !== 405, `${what}: the router does not know it`);
    assert.ok(r.status < 500, `${what}: ${r.text}`);
    if (isProtected(op)) {
      assert.equal(r.status, 401, what);
      assert.equal(r.json.code, 'unauthorized');
      assert.match(r.headers.get('www-authenticate'), /^Bearer realm="nova"/);
    } else {
      assert.notEqual(r.status, 401, `${what}: public in the document, protected in the router`);
    }
    conforms(method, path, r);
  }
});

test('every route of the server is documented, with exactly the documented methods', async () => {
  // /metrics keeps one histogram per registered route pattern, requested or not.
  const m = await call(nova, 'GET', '/metrics', { tok: METRICS });
  const routed = new Set([...m.text.matchAll(/^nova_http_request_duration_seconds_count\{route="([^"]+)"\}/gm)]
    .map((x) => x[1]).filter((p) => p !== 'unmatched'));
  assert.deepEqual([...routed].sort(), Object.keys(doc.paths).sort());
  for (const [path, item] of Object.entries(doc.paths)) {
    const documented = METHODS.filter((x) => item[x.toLowerCase()]);
    const allow = documented.includes('GET') ? [...documented, 'HEAD'] : documented;
    for (const method of METHODS.filter((x) => !documented.includes(x))) {
      const r = await call(nova, method, concrete(path));
      assert.equal(r.status, 405, `${method} ${path} should not be routed`);
      assert.equal(r.json.code, 'method_not_allowed');
      assert.deepEqual(r.headers.get('allow').split(', ').sort(), allow.sort(), `Allow of ${path}`);
    }
  }
});

test('paths that are not in the document answer 404', async () => {
  for (const path of ['/v1/nope', '/v1/clients/x/y', '/v1/tenants/x/y', '/v2/health', '/oauth', '/', '/.well-known/openid-configuration']) {
    assert.equal(doc.paths[path], undefined);
    const r = await call(nova, 'GET', path);
    assert.equal(r.status, 404, path);
    assert.equal(r.json.code, 'not_found');
    assert.equal(r.headers.get('content-type'), 'application/problem+json');
  }
});

test('what the server answers matches the documented schemas', async () => {
  const a = makeTenant(nova, 'oa-tenant', 'clients:read clients:write');
  const ops = makeTenant(nova, 'oa-operator', 'platform:admin');
  const basic = (c) => 'Basic ' + Buffer.from(`${c.id}:${c.secret}`).toString('base64');
  const form = (path, params, c = a) => call(nova, 'POST', path, {
    raw: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c) },
  });
  const check = async (method, pattern, pending) => {
    const r = await pending;
    conforms(method, pattern, r);
    return r;
  };

  // OAuth
  const tr = await check('POST', '/oauth/token', form('/oauth/token', { grant_type: 'client_credentials' }));
  const ta = tr.json.access_token;
  await check('POST', '/oauth/token', form('/oauth/token', { grant_type: 'password' }));
  await check('POST', '/oauth/token', form('/oauth/token', { grant_type: 'client_credentials', scope: 'platform:admin' }));
  await check('POST', '/oauth/token', form('/oauth/token', { grant_type: 'client_credentials', audience: 'elsewhere' }));
  await check('POST', '/oauth/token', form('/oauth/token', { grant_type: 'client_credentials' }, { id: a.id, secret: 'wrong' }));
  await check('POST', '/oauth/introspect', form('/oauth/introspect', { token: ta }));
  await check('POST', '/oauth/introspect', form('/oauth/introspect', { token: 'garbage' }));
  await check('POST', '/oauth/introspect', form('/oauth/introspect', {}));
  await check('POST', '/oauth/revoke', form('/oauth/revoke', { token: 'garbage', token_type_hint: 'id_token' }));

  // tenant routes
  await check('GET', '/v1/me', call(nova, 'GET', '/v1/me', { tok: ta }));
  await check('GET', '/v1/me', call(nova, 'GET', '/v1/me', { tok: 'not.a.token' }));
  const c = await check('POST', '/v1/clients', call(nova, 'POST', '/v1/clients', { tok: ta, body: { name: 'w', scopes: ['clients:read'], audiences: ['nova-api', 'x'] } }));
  assert.equal(c.status, 201, c.text);
  await check('POST', '/v1/clients', call(nova, 'POST', '/v1/clients', { tok: ta, body: { name: 'w', scopes: ['platform:admin'] } }));
  await check('POST', '/v1/clients', call(nova, 'POST', '/v1/clients', { tok: ta, body: { name: 'w', scopes: [] } }));
  await check('POST', '/v1/clients', call(nova, 'POST', '/v1/clients', { tok: ta, raw: '{"name":', headers: { 'content-type': 'application/json' } }));
  await check('POST', '/v1/clients', call(nova, 'POST', '/v1/clients', { tok: ta, raw: '{}', headers: { 'content-type': 'text/plain' } }));
  const id = c.json.client_id;
  await check('GET', '/v1/clients/{id}', call(nova, 'GET', '/v1/clients/' + id, { tok: ta }));
  await check('DELETE', '/v1/clients/{id}', call(nova, 'DELETE', '/v1/clients/' + id, { tok: ta }));
  await check('GET', '/v1/clients/{id}', call(nova, 'GET', '/v1/clients/cli_none', { tok: ta }));
  await check('DELETE', '/v1/clients/{id}', call(nova, 'DELETE', '/v1/clients/' + id, { tok: ta }));
  const list = await check('GET', '/v1/clients', call(nova, 'GET', '/v1/clients', { tok: ta }));
  assert.ok(list.json.clients.some((x) => x.client_id === id && x.revoked_at), 'a revoked client is listed');
  await check('GET', '/v1/tenants', call(nova, 'GET', '/v1/tenants', { tok: ta }));
  await check('POST', '/oauth/revoke', form('/oauth/revoke', { token: ta }));

  // platform routes
  const to = await token(nova, ops);
  const t = await check('POST', '/v1/tenants', call(nova, 'POST', '/v1/tenants', { tok: to, body: { name: 'oa-acme', client: { name: 'admin', scopes: ['clients:read', 'clients:write'] } } }));
  assert.equal(t.status, 201, t.text);
  await check('POST', '/v1/tenants', call(nova, 'POST', '/v1/tenants', { tok: to, body: { name: 'oa-bare' } }));
  const taken = await check('POST', '/v1/tenants', call(nova, 'POST', '/v1/tenants', { tok: to, body: { name: 'OA-Bare' } }));
  assert.equal(taken.status, 409, 'tenant names are unique per deployment, ASCII case folded');
  await check('POST', '/v1/tenants', call(nova, 'POST', '/v1/tenants', { tok: to, body: { name: 'x', client: { name: 'y', scopes: ['platform:admin'] } } }));
  await check('POST', '/v1/tenants', call(nova, 'POST', '/v1/tenants', { tok: to, body: { name: 'x', client: { name: 'y', scopes: ['clients:read'], admin: true } } }));
  await check('GET', '/v1/tenants', call(nova, 'GET', '/v1/tenants', { tok: to }));
  await check('GET', '/v1/tenants/{id}', call(nova, 'GET', '/v1/tenants/' + t.json.id, { tok: to }));
  await check('GET', '/v1/tenants/{id}', call(nova, 'GET', '/v1/tenants/ten_none', { tok: to }));
  await check('GET', '/v1/clients', call(nova, 'GET', '/v1/clients', { tok: to }));

  // operational and per-tenant public routes
  await check('GET', '/metrics', call(nova, 'GET', '/metrics', { tok: METRICS }));
  await check('GET', '/metrics', call(nova, 'GET', '/metrics', { tok: 'not-the-metrics-token' }));
  await check('GET', '/v1/ready', call(nova, 'GET', '/v1/ready'));
  await check('GET', '/v1/ready', call(nova, 'GET', '/v1/ready', { tok: METRICS }));
  await check('GET', '/.well-known/jwks.json', call(nova, 'GET', '/.well-known/jwks.json'));
  for (const p of ['/tenants/{id}/.well-known/jwks.json', '/tenants/{id}/.well-known/oauth-authorization-server',
    '/.well-known/oauth-authorization-server/tenants/{id}']) {
    const ok = await check('GET', p, call(nova, 'GET', p.replace('{id}', a.tenant)));
    assert.equal(ok.status, 200, p);
    const missing = await check('GET', p, call(nova, 'GET', p.replace('{id}', 'ten_none')));
    assert.equal(missing.status, 404, p);
  }
});

test('the OpenFGA routes answer as documented', async () => {
  const f = makeTenant(nova, 'oa-fga', 'fga:read fga:write');
  const tok = await token(nova, f);
  const check = async (method, pattern, path, body, raw) => {
    const r = await call(nova, method, path, raw ? { tok, ...raw } : { tok, body });
    conforms(method, pattern, r);
    return r;
  };
  const s = (await check('POST', '/stores', '/stores', { name: 'oa store' })).json.id;
  await check('POST', '/stores', '/stores', { name: 'x' });
  await check('POST', '/stores', '/stores', undefined, { raw: '{}', headers: { 'content-type': 'text/plain' } });
  await check('GET', '/stores', '/stores?page_size=1');
  await check('GET', '/stores', '/stores?page_size=x');
  await check('GET', '/stores/{store_id}', '/stores/' + s);
  await check('GET', '/stores/{store_id}', '/stores/01ARZ3NDEKTSV4RRFFQ69G5FAV');
  const model = { schema_version: '1.1', type_definitions: [{ type: 'user' }, { type: 'doc', relations: { viewer: { this: {} } }, metadata: { relations: { viewer: { directly_related_user_types: [{ type: 'user' }, { type: 'user', wildcard: {} }] } } } }] };
  const P = (x) => `/stores/${s}/${x}`;
  const m = (await check('POST', '/stores/{store_id}/authorization-models', P('authorization-models'), model)).json.authorization_model_id;
  await check('POST', '/stores/{store_id}/authorization-models', P('authorization-models'), { schema_version: '1.1', type_definitions: [] });
  await check('GET', '/stores/{store_id}/authorization-models', P('authorization-models'));
  await check('GET', '/stores/{store_id}/authorization-models/{id}', P('authorization-models/' + m));
  await check('GET', '/stores/{store_id}/authorization-models/{id}', P('authorization-models/01ARZ3NDEKTSV4RRFFQ69G5FAV'));
  const t = { user: 'user:a', relation: 'viewer', object: 'doc:1' };
  await check('POST', '/stores/{store_id}/write', P('write'), { writes: { tuple_keys: [t, { ...t, user: 'user:*' }] } });
  await check('POST', '/stores/{store_id}/write', P('write'), { writes: { tuple_keys: [t] } });
  await check('POST', '/stores/{store_id}/read', P('read'), { page_size: 1 });
  await check('POST', '/stores/{store_id}/read', P('read'), { tuple_key: { relation: 'x' } });
  await check('POST', '/stores/{store_id}/check', P('check'), { tuple_key: t });
  await check('POST', '/stores/{store_id}/check', P('check'), { tuple_key: { ...t, relation: 'nope' } });
  await check('POST', '/stores/{store_id}/batch-check', P('batch-check'), { checks: [{ tuple_key: t, correlation_id: '1' }, { tuple_key: { ...t, relation: 'nope' }, correlation_id: '2' }] });
  await check('POST', '/stores/{store_id}/expand', P('expand'), { tuple_key: { object: 'doc:1', relation: 'viewer' } });
  await check('POST', '/stores/{store_id}/list-objects', P('list-objects'), { type: 'doc', relation: 'viewer', user: 'user:a' });
  const sl = await check('POST', '/stores/{store_id}/streamed-list-objects', P('streamed-list-objects'), { type: 'doc', relation: 'viewer', user: 'user:a' });
  assert.equal(sl.text, '{"result":{"object":"doc:1"}}\n');
  await check('POST', '/stores/{store_id}/list-users', P('list-users'), { object: { type: 'doc', id: '1' }, relation: 'viewer', user_filters: [{ type: 'user' }] });
  await check('GET', '/stores/{store_id}/changes', P('changes'));
  await check('PUT', '/stores/{store_id}/assertions/{authorization_model_id}', P('assertions/' + m), { assertions: [{ tuple_key: t, expectation: true }] });
  await check('GET', '/stores/{store_id}/assertions/{authorization_model_id}', P('assertions/' + m));
  await check('DELETE', '/stores/{store_id}', '/stores/' + s);
  await check('DELETE', '/stores/{store_id}', '/stores/' + s);
});
