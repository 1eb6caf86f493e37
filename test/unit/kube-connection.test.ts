// Reading a kubeconfig the way kubectl does (data or files, paths relative to
// the file, token or token file, client certificate), the in-cluster layout,
// and refusing what the agent does not support.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inClusterConnection, kubeconfigConnection, loadConnection } from '../../agent/report/kube/connection.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeconfig-test-'));
  await writeFile(join(dir, 'ca.pem'), 'CA-FILE');
  await writeFile(join(dir, 'token'), 'T');
  await writeFile(join(dir, 'ca.crt'), 'IN-CLUSTER-CA');
});
after(() => rm(dir, { recursive: true, force: true }));

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('inline data, the current context, client certificate', async () => {
  const path = join(dir, 'inline.yaml');
  await writeFile(path, `apiVersion: v1
kind: Config
current-context: b
contexts:
- name: a
  context: {cluster: one, user: u1}
- name: b
  context: {cluster: two, user: u2}
clusters:
- name: one
  cluster: {server: "https://one:6443"}
- name: two
  cluster: {server: "https://two:6443", certificate-authority-data: ${b64('CA-DATA')}, tls-server-name: api.two}
users:
- name: u1
  user: {token: abc}
- name: u2
  user: {client-certificate-data: ${b64('CERT')}, client-key-data: ${b64('KEY')}}
`);
  const c = await kubeconfigConnection(path);
  assert.equal(c.server, 'https://two:6443');
  assert.equal(c.ca?.toString(), 'CA-DATA');
  assert.equal(c.clientCert?.toString(), 'CERT');
  assert.equal(c.clientKey?.toString(), 'KEY');
  assert.equal(c.tlsServerName, 'api.two');
  assert.equal(c.token, undefined);
  const a = await kubeconfigConnection(path, 'a');
  assert.equal(a.server, 'https://one:6443');
  assert.equal(a.token, 'abc');
});

test('file references are relative to the kubeconfig; tokenFile is kept as a path to re-read', async () => {
  const path = join(dir, 'files.yaml');
  await writeFile(path, `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://c:443", certificate-authority: ca.pem, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {tokenFile: token}}]
`);
  const c = await loadConnection({ kubeconfig: path });
  assert.equal(c.ca?.toString(), 'CA-FILE');
  assert.equal(c.tokenFile, join(dir, 'token'));
  assert.equal(c.insecureSkipTlsVerify, true);
});

test('exec plugins and missing contexts are refused with a clear message', async () => {
  const path = join(dir, 'exec.yaml');
  await writeFile(path, `current-context: x
contexts: [{name: x, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://c"}}]
users: [{name: u, user: {exec: {command: aws}}}]
`);
  await assert.rejects(kubeconfigConnection(path), /exec or auth-provider plugin/);
  await assert.rejects(kubeconfigConnection(path, 'nope'), /no context named "nope"/);
});

test('in-cluster: host and port from the environment (IPv6 bracketed), token file and CA from the directory', () => {
  const c = inClusterConnection({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir);
  assert.equal(c.server, 'https://[fd00::1]:443');
  assert.equal(c.tokenFile, join(dir, 'token'));
  assert.equal(c.ca?.toString(), 'IN-CLUSTER-CA');
  assert.throws(() => inClusterConnection({}, dir), /not running in a cluster/);
});
