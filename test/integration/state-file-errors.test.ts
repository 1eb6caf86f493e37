// writeStateFile on a real full filesystem (a 64 KiB tmpfs, mounted in a mount
// namespace of its own) and over a directory: the write fails, and no temp file
// is left behind to hold the space the next try needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATE_FILE, writeStateFile } from '../../agent/runtime/state-file.ts';

const MODULE = new URL('../../agent/runtime/state-file.ts', import.meta.url).pathname;

test('a write that fails on a full filesystem leaves no temp file behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-enospc-'));
  try {
    // 200 KB of state into 64 KiB: open and part of the write succeed, then ENOSPC.
    const script = `
      const { writeStateFile } = await import(${JSON.stringify(MODULE)});
      const fs = await import('node:fs');
      const doc = { bootId: 'b', savedAt: 0, health: { pad: 'x'.repeat(200000) }, cursor: null, condition: null };
      let error = null;
      try { await writeStateFile(process.argv[1], doc); } catch (e) { error = e.code; }
      console.log(JSON.stringify({ error, left: fs.readdirSync(process.argv[1]) }));`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs '${dir}' && exec "$0" "$@"`, process.execPath, '--input-type=module', '-e', script, dir], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { error: 'ENOSPC', left: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write over a state.json that is a directory fails and leaves no temp file behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-eisdir-'));
  try {
    mkdirSync(join(dir, STATE_FILE));
    await assert.rejects(writeStateFile(dir, { bootId: 'b', savedAt: 0, health: {}, cursor: null, condition: null }), /EISDIR|EEXIST|ENOTEMPTY/);
    assert.deepEqual(readdirSync(dir), [STATE_FILE]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
