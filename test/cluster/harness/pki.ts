// Keys and certificates for a throwaway API server: a CA, a serving cert for
// 127.0.0.1, an admin client cert (group system:masters) and the
// service-account signing key pair. Keys come from node:crypto; node cannot
// issue X.509 certificates, so the openssl CLI signs them.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saPublicKey: string;
  saPrivateKey: string;
}

async function ecKey(path: string): Promise<void> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    throw new Error(`cluster harness: openssl ${args[0]} failed (is openssl installed?): ${(err as Error).message}`);
  }
}

async function signed(dir: string, name: string, subject: string, extensions: string, ca: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await ecKey(key);
  await writeFile(ext, extensions);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '3650', '-sha256', '-extfile', ext, '-out', cert]);
  return { cert, key };
}

export async function createPki(dir: string): Promise<Pki> {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await ecKey(caKey);
  await openssl(['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=gpu-health-agent-test-ca', '-days', '3650', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', caCert]);
  const ca = { cert: caCert, key: caKey };
  const [serving, admin] = await Promise.all([
    signed(dir, 'apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n', ca),
    signed(dir, 'admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n', ca),
  ]);
  const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const saPrivateKey = join(dir, 'sa.key');
  const saPublicKey = join(dir, 'sa.pub');
  await writeFile(saPrivateKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(saPublicKey, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  return { caCert, servingCert: serving.cert, servingKey: serving.key, adminCert: admin.cert, adminKey: admin.key, saPublicKey, saPrivateKey };
}
