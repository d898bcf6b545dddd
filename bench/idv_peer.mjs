// bench/idv_peer.mjs: the peer pipeline of bench/idv.sh, on the same generated documents as
// bench/idv_bench.c: npm tesseract.js (Tesseract compiled to WebAssembly, its default LSTM
// model, from the npm @tesseract.js-data/eng package unpacked by scripts/models.sh: nothing is
// fetched) reads the page with the MRZ alphabet allowed (a band rectangle read worse), the last
// lines of 30, 36 or 44 characters (within 2) go to npm mrz's parse with its autocorrect, and
// every field is compared with the truth file. A field is wrong in silence when it differs
// from the truth while the parse says it is valid.
//   node bench/idv_peer.mjs DOCS_DIR LANG_DIR   ->  JSON on stdout
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(import.meta.dirname, 'peer', 'package.json'));
const { createWorker, PSM, OEM } = require('tesseract.js');
const { parse } = require('mrz');

const [dir, langPath] = process.argv.slice(2);
const pkg = (name) => JSON.parse(readFileSync(join(import.meta.dirname, 'peer', 'node_modules', name, 'package.json'), 'utf8')).version;
const FIELDS = ['document_code', 'issuer', 'document_number', 'nationality', 'birth_date', 'sex', 'expiry_date', 'surname', 'given_names'];
const NOW = new Date().getUTCFullYear();

// YYMMDD to YYYY-MM-DD with Nova's century rule: a birth year is the latest not after this
// year, an expiry year the earliest not before this year - 50.
function date(s, birth) {
  if (!/^\d{6}$/.test(s ?? '')) return null;
  const yy = Number(s.slice(0, 2));
  let y = Math.floor(NOW / 100) * 100 + yy;
  if (birth) { if (y > NOW) y -= 100; } else if (y < NOW - 50) y += 100;
  return `${y}-${s.slice(2, 4)}-${s.slice(4, 6)}`;
}

function fieldsOf(r) {
  const f = r.fields;
  return {
    document_code: f.documentCode ?? null,
    issuer: f.issuingState ?? null,
    document_number: f.documentNumber ?? null,
    nationality: f.nationality ?? null,
    birth_date: date(f.birthDate, true),
    sex: f.sex === 'male' ? 'M' : f.sex === 'female' ? 'F' : f.sex === 'nonspecified' ? 'X' : null,
    expiry_date: date(f.expirationDate, false),
    surname: f.lastName ?? null,
    given_names: f.firstName ?? null,
  };
}

// The zone: the last lines of 28 characters or more, cut or padded to the ICAO width their
// count and length say (3 lines: 30; 2: 44 from 40 characters, else 36). Generous to the
// peer: its LSTM reads runs of fillers as K and L and makes the lines too long.
function mrzLines(text) {
  const lines = text.split('\n').map((l) => l.replace(/\s+/g, '').toUpperCase()).filter((l) => /^[A-Z0-9<]{28,}$/.test(l));
  if (lines.length < 2) return null;
  const three = lines.length >= 3 && lines.slice(-3).every((l) => l.length < 36);
  const z = lines.slice(three ? -3 : -2);
  const w = three ? 30 : z[0].length >= 40 ? 44 : 36;
  return z.map((l) => (l + '<'.repeat(w)).slice(0, w));
}

const worker = await createWorker('eng', OEM.LSTM_ONLY, { langPath, gzip: true, cacheMethod: 'none', logger: () => {} });
await worker.setParameters({ tessedit_char_whitelist: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<', tessedit_pageseg_mode: PSM.SINGLE_BLOCK });
const tally = { clean: { fields: 0, right: 0, silent: 0, docs: 0 }, degraded: { fields: 0, right: 0, silent: 0, docs: 0 } };
const ms = [];
for (const f of readdirSync(dir).filter((x) => x.endsWith('.jpg')).sort()) {
  const truth = JSON.parse(readFileSync(join(dir, f.replace(/\.jpg$/, '.json')), 'utf8'));
  const img = readFileSync(join(dir, f));
  const t0 = performance.now();
  const { data } = await worker.recognize(img);
  let read = null, valid = false;
  const lines = mrzLines(data.text);
  if (lines) {
    try {
      const r = parse(lines, { autocorrect: true });
      read = fieldsOf(r);
      valid = r.valid;
    } catch {
      /* lines its parser does not take as a zone: every field missing */
    }
  }
  ms.push(performance.now() - t0);
  const t = truth.variant === 'clean' ? tally.clean : tally.degraded;
  t.docs++;
  for (const k of FIELDS) {
    t.fields++;
    const got = read ? read[k] : null;
    if (got === truth.fields[k]) t.right++;
    else if (valid && got !== null) t.silent++;
  }
}
await worker.terminate();
ms.sort((a, b) => a - b);
const rate = (t) => ({ documents: t.docs, fields: t.fields, read_rate: t.fields ? +(t.right / t.fields).toFixed(4) : 0, wrong_in_silence: t.silent });
console.log(JSON.stringify({
  pipeline: 'npm tesseract.js ' + pkg('tesseract.js') + ' (LSTM, page, MRZ alphabet) + npm mrz ' + pkg('mrz') + ' parse(autocorrect)',
  clean: rate(tally.clean),
  degraded: rate(tally.degraded),
  ms_per_document: { p50: +ms[Math.floor(ms.length / 2)].toFixed(1), p95: +ms[Math.floor(ms.length * 0.95)].toFixed(1) },
}));

