// Differential testing against SpiceDB (issue 7 item 9): seeded random models (direct types
// with wildcards and usersets, computed relations, `x from parent`, union, intersection,
// exclusion, nested up to two levels) and random tuple sets, written both to novad (the
// OpenFGA API) and to SpiceDB 1.54 (libspicedb.so); every (object, relation, user) triple of
// every model is checked on both and compared. Conditions (caveats) are not generated: the two
// engines' CEL dialects differ (timestamps, missing-parameter rules), so they are out of scope.
// Team nesting is acyclic (SpiceDB reports a cycle in the data as an error where OpenFGA and
// Nova answer false). DIFF_SEEDS (default 40) models; the summary says how many were compared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SpiceDB } from './spicedb.mjs';
import { startNova, makeTenant, token, call } from '../integration/lib.mjs';

const SEEDS = Number(process.env.DIFF_SEEDS || 40);
let nova, tok, spice, app;

// mulberry32: a small seeded PRNG, so a failing seed can be replayed.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// One random model and tuple set; type names carry the seed so one SpiceDB holds them all.
function generate(seed) {
  const r = prng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const sfx = `_s${seed}`;
  const user = 'user', team = 'team' + sfx, folder = 'folder' + sfx, doc = 'doc' + sfx;
  const meta = (types) => ({ directly_related_user_types: types });
  const directChoices = [[{ type: user }], [{ type: user }, { type: team, relation: 'member' }],
    [{ type: user, wildcard: {} }], [{ type: user }, { type: user, wildcard: {} }], [{ type: team, relation: 'member' }]];
  const types = [
    { type: user },
    { type: team, relations: { member: { this: {} } }, metadata: { relations: { member: meta([{ type: user }, { type: team, relation: 'member' }]) } } },
    {
      type: folder,
      relations: { owner: { this: {} }, viewer: { union: { child: [{ this: {} }, { computedUserset: { relation: 'owner' } }] } } },
      metadata: { relations: { owner: meta(pick(directChoices)), viewer: meta(pick(directChoices)) } },
    },
  ];
  const drels = { parent: { this: {} } };
  const dmeta = { parent: meta([{ type: folder }]) };
  const names = [];
  const nrel = 3 + Math.floor(r() * 4);
  const leaf = (name) => {
    const k = Math.floor(r() * 4);
    if (k === 0 || names.length === 0) {
      dmeta[name] = meta(pick(directChoices));
      return { this: {} };
    }
    if (k === 1) return { computedUserset: { relation: pick(names) } };
    return { tupleToUserset: { tupleset: { relation: 'parent' }, computedUserset: { relation: pick(['owner', 'viewer']) } } };
  };
  for (let i = 0; i < nrel; i++) {
    const name = 'rel' + String.fromCharCode(97 + i);
    const k = Math.floor(r() * 5);
    let rw;
    if (k === 0) rw = leaf(name);
    else if (k === 1) rw = { union: { child: [leaf(name), leaf(name)] } };
    else if (k === 2) rw = { intersection: { child: [leaf(name), leaf(name)] } };
    else if (k === 3) rw = { difference: { base: leaf(name), subtract: leaf(name) } };
    else rw = { union: { child: [{ difference: { base: leaf(name), subtract: leaf(name) } }, leaf(name)] } };
    // a relation names `this` at most once in OpenFGA's form; drop repeats
    let seen = false;
    const dedupe = (n) => {
      if (n.this !== undefined) { if (seen) return { computedUserset: { relation: 'parent' } }; seen = true; return n; }
      for (const key of ['union', 'intersection']) if (n[key]) n[key].child = n[key].child.map(dedupe);
      if (n.difference) { n.difference.base = dedupe(n.difference.base); n.difference.subtract = dedupe(n.difference.subtract); }
      return n;
    };
    rw = dedupe(rw);
    // `parent` as a computed relation would relate folders, not users: use the first relation
    const fix = (n) => {
      if (n.computedUserset && n.computedUserset.relation === 'parent') {
        if (names.length) return { computedUserset: { relation: names[0] } };
        return { tupleToUserset: { tupleset: { relation: 'parent' }, computedUserset: { relation: 'owner' } } };
      }
      for (const key of ['union', 'intersection']) if (n[key]) n[key].child = n[key].child.map(fix);
      if (n.difference) { n.difference.base = fix(n.difference.base); n.difference.subtract = fix(n.difference.subtract); }
      return n;
    };
    rw = fix(rw);
    if (!JSON.stringify(rw).includes('"this"')) delete dmeta[name];
    drels[name] = rw;
    names.push(name);
  }
  types.push({ type: doc, relations: drels, metadata: { relations: dmeta } });
  const model = { schema_version: '1.1', type_definitions: types };

  const users = ['u0', 'u1', 'u2', 'u3', 'u4'].map((u) => 'user:' + u);
  const teams = ['t0', 't1', 't2'].map((t) => team + ':' + t);
  const folders = ['f0', 'f1', 'f2', 'f3'].map((f) => folder + ':' + f);
  const docs = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'].map((d) => doc + ':' + d);
  const tuples = new Map();
  const add = (object, relation, u) => tuples.set(`${object}|${relation}|${u}`, { object, relation, user: u });
  const subjectFor = (types) => {
    const t = pick(types);
    if (t.wildcard) return 'user:*';
    if (t.relation) return pick(teams) + '#member';
    return pick(users);
  };
  // team memberships nest without cycles (SpiceDB answers a cycle with an error, OpenFGA
  // and Nova with false): a team only contains teams after it
  for (let i = 0; i < 6; i++) {
    const a = Math.floor(r() * teams.length);
    if (r() < 0.7 || a === teams.length - 1) add(teams[a], 'member', pick(users));
    else add(teams[a], 'member', teams[a + 1 + Math.floor(r() * (teams.length - a - 1))] + '#member');
  }
  for (const f of folders) {
    if (r() < 0.7) add(f, 'owner', subjectFor(types[2].metadata.relations.owner.directly_related_user_types));
    if (r() < 0.7) add(f, 'viewer', subjectFor(types[2].metadata.relations.viewer.directly_related_user_types));
  }
  for (const d of docs) {
    if (r() < 0.8) add(d, 'parent', pick(folders));
    for (const [name, m] of Object.entries(dmeta)) {
      if (name === 'parent') continue;
      for (let k = 0; k < 2; k++) if (r() < 0.5) add(d, name, subjectFor(m.directly_related_user_types));
    }
  }
  const triples = [];
  for (const d of docs) for (const rel of names) for (const u of users) triples.push([d, rel, u]);
  for (const f of folders) for (const rel of ['owner', 'viewer']) for (const u of users) triples.push([f, rel, u]);
  for (const t of teams) for (const u of users) triples.push([t, 'member', u]);
  return { model, tuples: [...tuples.values()], triples };
}

before(async () => {
  nova = await startNova();
  app = makeTenant(nova, 'diff', 'fga:read fga:write');
  tok = await token(nova, app);
  spice = null;
});
after(async () => {
  if (spice) spice.close();
  await nova.stop();
});

test(`Nova and SpiceDB agree on every triple of ${SEEDS} random models`, async (t) => {
  let compared = 0;
  const mismatches = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const g = generate(seed);
    // novad: a store per model
    const s = await call(nova, 'POST', '/stores', { tok, body: { name: 'diff ' + seed } });
    assert.equal(s.status, 201, s.text);
    const m = await call(nova, 'POST', `/stores/${s.json.id}/authorization-models`, { tok, body: g.model });
    assert.equal(m.status, 201, `seed ${seed}: ${m.text}\n${JSON.stringify(g.model)}`);
    for (let i = 0; i < g.tuples.length; i += 100) {
      const w = await call(nova, 'POST', `/stores/${s.json.id}/write`, { tok, body: { writes: { tuple_keys: g.tuples.slice(i, i + 100) } } });
      assert.equal(w.status, 200, `seed ${seed}: ${w.text}`);
    }
    // SpiceDB: one instance; each model's relationships are deleted after it, so the next
    // schema can replace its definitions
    if (!spice) spice = new SpiceDB(g.model);
    else spice.replaceModel(g.model);
    spice.write(g.tuples);
    for (let i = 0; i < g.triples.length; i += 50) {
      const batch = g.triples.slice(i, i + 50);
      const b = await call(nova, 'POST', `/stores/${s.json.id}/batch-check`, {
        tok,
        body: { checks: batch.map(([object, relation, user], k) => ({ tuple_key: { object, relation, user }, correlation_id: String(k) })) },
      });
      assert.equal(b.status, 200, b.text);
      batch.forEach(([object, relation, user], k) => {
        const res = b.json.result[String(k)];
        const ours = res.error ? 'error' : res.allowed ? 'allowed' : 'denied';
        const theirs = spice.check(object, relation, user);
        compared++;
        if (ours !== theirs) mismatches.push({ seed, object, relation, user, nova: ours, spicedb: theirs });
      });
    }
    spice.clear(g.model.type_definitions.slice(1).map((d) => d.type));
    if (seed % 20 === 0) tok = await token(nova, app); // tokens live minutes; long runs renew
  }
  t.diagnostic(`compared ${compared} (object, relation, user) triples over ${SEEDS} models; ${mismatches.length} mismatches`);
  for (const x of mismatches.slice(0, 50)) t.diagnostic('mismatch ' + JSON.stringify(x));
  assert.ok(compared >= SEEDS * 100, String(compared));
  assert.deepEqual(mismatches, []);
});
