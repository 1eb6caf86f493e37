// @kubernetes/client-node (~80 MiB resident on import) is for the fleet
// command only: the real agent (`run`) must never load it. Every module the
// process resolves is recorded by a resolve hook; the fleet command, run the
// same way, shows the hook sees the library when it is loaded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MAIN, ROOT, scratch, startAgentProcess, waitFor } from '../helpers/agent-process.ts';

const LIBRARY = '/node_modules/@kubernetes/client-node/';
const HOOK = join(ROOT, 'test', 'helpers', 'record-imports.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function loaded(log: string): string[] {
  return readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
}

test('`run` does not load @kubernetes/client-node (it loads its own dependencies, which the hook sees)', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'imports.log');
  // startAgentProcess passes this process's environment on to the agent.
  process.env.NODE_OPTIONS = `--import=${HOOK}`;
  process.env.GHA_IMPORT_LOG = log;
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', `${s.dir}/kern.log`, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run']);
  try {
    await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 10_000);
  } finally {
    assert.equal(await a.stop(), 0);
    delete process.env.NODE_OPTIONS;
    delete process.env.GHA_IMPORT_LOG;
  }
  const urls = loaded(log);
  assert.ok(urls.some((u) => u.includes('/node_modules/prom-client/')), `the hook recorded the agent's modules (${urls.length} resolved)`);
  assert.ok(urls.some((u) => u.endsWith('/dist/agent/cli/run.js')));
  assert.deepEqual(urls.filter((u) => u.includes(LIBRARY)), []);
});

test('`fleet` loads it (so the check above would see it)', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'imports.log');
  const res = await promisify(execFile)(process.execPath, [MAIN, 'fleet', '--kubeconfig', join(s.dir, 'none.kubeconfig')], {
    env: { ...process.env, NODE_OPTIONS: `--import=${HOOK}`, GHA_IMPORT_LOG: log },
  }).then(() => ({ code: 0 }), (err: { code: number }) => err);
  assert.equal(res.code, 1, 'no such kubeconfig');
  assert.ok(loaded(log).some((u) => u.includes(LIBRARY)));
});
