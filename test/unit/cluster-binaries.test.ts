// How the cluster harness finds its binaries: explicit paths first, PATH only
// when the version is the tested minor, then the cache; nothing found and no
// build allowed is an error naming what is missing (the suite fails, never skips).
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cacheDir, findBinaries, K8S_MINOR } from '../cluster/harness/binaries.ts';

let dir = '';
const saved = { ...process.env };

async function fake(path: string, stdout: string): Promise<void> {
  // Shell builtins only: PATH holds nothing but the fakes.
  await writeFile(path, `#!/bin/sh\nprintf '%s\\n' '${stdout.replaceAll('\n', "' '")}'\n`);
  await chmod(path, 0o755);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'binaries-test-'));
  await mkdir(join(dir, 'path'));
  await mkdir(join(dir, 'assets'));
  for (const k of ['KUBEBUILDER_ASSETS', 'TEST_ASSET_KUBE_APISERVER', 'TEST_ASSET_ETCD', 'TEST_ASSET_KUBECTL', 'TEST_ASSET_HELM']) delete process.env[k];
  process.env.GPU_HEALTH_AGENT_CACHE = join(dir, 'empty-cache');
});
after(async () => {
  process.env = saved;
  await rm(dir, { recursive: true, force: true });
});

test('nothing anywhere and no build: an error that names every missing binary', async () => {
  process.env.PATH = join(dir, 'path');
  assert.ok(cacheDir().startsWith(join(dir, 'empty-cache')));
  await assert.rejects(findBinaries({ build: false }), /missing kube-apiserver, etcd, kubectl, helm/);
});

test('PATH is used only at the tested minor; explicit paths and KUBEBUILDER_ASSETS win', async () => {
  const p = join(dir, 'path');
  await fake(join(p, 'kube-apiserver'), `Kubernetes v${K8S_MINOR}.9`);
  await fake(join(p, 'etcd'), 'etcd Version: 3.6.4\nGit SHA: x');
  await fake(join(p, 'kubectl'), '{"clientVersion":{"gitVersion":"v1.19.0"}}'); // a stray old kubectl
  await fake(join(p, 'helm'), 'v3.19.0+gabc');
  process.env.PATH = p;
  await assert.rejects(findBinaries({ build: false }), /missing kubectl\b/);

  await fake(join(dir, 'assets', 'kubectl'), 'anything');
  process.env.KUBEBUILDER_ASSETS = join(dir, 'assets');
  const found = await findBinaries({ build: false });
  assert.equal(found.kubectl, join(dir, 'assets', 'kubectl'));
  assert.equal(found.kubeApiserver, join(p, 'kube-apiserver'));
  assert.equal(found.etcd, join(p, 'etcd'));

  process.env.TEST_ASSET_ETCD = join(dir, 'nope');
  await assert.rejects(findBinaries({ build: false }), /TEST_ASSET_ETCD=.* is not an executable file/);
});
