// bench/policy_spicedb.mjs: the policy bench's checks through SpiceDB 1.54 (libspicedb.so,
// in process through its C ABI) on the same tenant, for the Nova/SpiceDB ratios.
//   node bench/policy_spicedb.mjs DIR OUT.json
// DIR holds model.json (the OpenFGA JSON form), tuples.csv and checks.tsv from
// bench/policy_gen.py. Loads every tuple (1000 per WriteRelationships), then times each check
// (the request is encoded before the clock starts: the time is the library call and SpiceDB's
// own decoding and evaluation), one warm-up pass first. Writes p50/p99/throughput and the
// answers' agreement with the expected ones.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpiceDB } from '../tests/differential/spicedb.mjs';

const [dir, out] = process.argv.slice(2);
const model = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
const tuples = readFileSync(join(dir, 'tuples.csv'), 'utf8').split('\n').filter(Boolean).map((l) => {
  const [object, relation, user, cond, ctx] = l.split(',');
  const t = { object, relation, user };
  if (cond) t.condition = { name: cond, context: JSON.parse(ctx.replaceAll(';', ',')) };
  return t;
});
// SpiceDB takes milliseconds per check here: the first SPICEDB_CHECKS (2000) of the 10,000
const LIMIT = Number(process.env.SPICEDB_CHECKS || 2000);
const checks = readFileSync(join(dir, 'checks.tsv'), 'utf8').split('\n').filter(Boolean).slice(0, LIMIT).map((l) => {
  const [object, relation, user, ctx, expect] = l.split('\t');
  return { object, relation, user, context: ctx ? JSON.parse(ctx) : undefined, expect };
});

const t0 = process.hrtime.bigint();
const db = new SpiceDB(model, { consistency: 'minimize' });
db.write(tuples);
const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
const encoded = checks.map((c) => db.encodeCheck(c.object, c.relation, c.user, c.context));
const lat = new Float64Array(checks.length);
let allowed = 0, wrong = 0, conditional = 0, total = 0, errors = 0;
const errorKinds = {};
for (let pass = 0; pass < 2; pass++) {
  const all0 = process.hrtime.bigint();
  for (let i = 0; i < checks.length; i++) {
    const a = process.hrtime.bigint();
    let r;
    try {
      r = db.checkEncoded(encoded[i]);
    } catch (e) { // e.g. DeadlineExceeded: SpiceDB's dispatch gave up; counted, timed as taken
      r = 'error';
      if (pass === 1) {
        errors++;
        const k = String(e.message).replace(/^rpc error: /, '').slice(0, 80);
        errorKinds[k] = (errorKinds[k] || 0) + 1;
      }
    }
    lat[i] = Number(process.hrtime.bigint() - a);
    if (pass === 1) {
      if (r === 'allowed') allowed++;
      if (r === 'conditional') conditional++;
      const e = checks[i].expect;
      if (r !== 'error' && ((e === '1' && r !== 'allowed') || (e === '0' && r === 'allowed'))) wrong++;
    }
  }
  if (pass === 1) total = Number(process.hrtime.bigint() - all0) / 1e9;
}
db.close();
const sorted = [...lat].sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))] / 1e3;
writeFileSync(out, JSON.stringify({
  engine: 'SpiceDB 1.54 (libspicedb.so, memdb, minimize_latency)',
  tuples: tuples.length,
  load_s: loadS,
  check: {
    count: checks.length, allowed, conditional, errors, error_kinds: errorKinds, wrong_by_construction: wrong,
    p50_us: pct(0.5), p90_us: pct(0.9), p99_us: pct(0.99), max_us: sorted[sorted.length - 1] / 1e3,
    per_second: checks.length / total,
  },
}, null, 2) + '\n');
