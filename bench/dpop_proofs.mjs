// bench/dpop_proofs.mjs BASE CLIENT_ID CLIENT_SECRET COUNT OUT: gets a DPoP-bound token (nonce
// round included) and writes COUNT fresh proofs for GET BASE/v1/me (one `DPoP: ...` header line
// each, distinct jti, ath of the token) to OUT for loadgen -F; prints the token.
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const [base, id, secret, count, out] = process.argv.slice(2);
const b64u = (b) => Buffer.from(b).toString('base64url');
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicKey.export({ format: 'jwk' });
function proof(htm, htu, extra) {
  const h = b64u(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }));
  const p = b64u(JSON.stringify({ jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000), ...extra }));
  return `${h}.${p}.` + b64u(sign('sha256', Buffer.from(`${h}.${p}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}
async function grant(nonce) {
  return fetch(base + '/oauth/token', {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
      dpop: proof('POST', base + '/oauth/token', nonce ? { nonce } : {}),
    },
    body: 'grant_type=client_credentials',
  });
}
let r = await grant();
if (r.status === 400) r = await grant(r.headers.get('dpop-nonce'));
const j = await r.json();
if (r.status !== 200 || j.token_type !== 'DPoP') throw new Error('no DPoP token: ' + JSON.stringify(j));
const ath = b64u(createHash('sha256').update(j.access_token).digest());
const lines = [];
for (let i = 0; i < Number(count); i++) lines.push('DPoP: ' + proof('GET', base + '/v1/me', { ath }));
writeFileSync(out, lines.join('\n') + '\n');
process.stdout.write(j.access_token);
