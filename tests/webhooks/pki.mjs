// Test certificates made with openssl in a directory: CAs and the leaves they sign for
// 127.0.0.1 (the receivers, the SMTP server, the client certificate Nova presents).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function pki(dir) {
  const openssl = (...args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  return {
    // A CA: name.pem, name.key.
    ca(name) {
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key',
        '-out', name + '.pem', '-days', '2', '-subj', '/CN=' + name, '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign');
    },
    // A leaf for 127.0.0.1 signed by caName: name.pem, name.key.
    leaf(name, caName) {
      writeFileSync(join(dir, name + '.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key', '-out', name + '.csr', '-subj', '/CN=' + name);
      openssl('x509', '-req', '-in', name + '.csr', '-CA', caName + '.pem', '-CAkey', caName + '.key', '-CAcreateserial',
        '-out', name + '.pem', '-days', '2', '-extfile', name + '.ext');
    },
    pem: (n) => readFileSync(join(dir, n), 'utf8'),
  };
}
