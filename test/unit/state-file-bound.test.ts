// The state file is read back only up to a bound that the agent's own largest
// file stays well under; a larger one was not written by the agent and is set
// aside unread. Real files on the real filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toSnapshot } from '../../agent/health/index.ts';
import { MAX_STATE_FILE_BYTES, readStateFile, STATE_FILE, writeStateFile } from '../../agent/runtime/state-file.ts';
import { largestHealth } from '../helpers/big-files.ts';

test('the largest state the health caps allow is written and read back whole, under the state-file bound with room to spare', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-state-bound-'));
  try {
    const t = Date.UTC(2026, 0, 1);
    const health = toSnapshot(largestHealth('b1', t));
    assert.equal(health.gpus.length, 64);
    await writeStateFile(dir, { bootId: 'b1', savedAt: t, health, cursor: { bootId: 'b1', seq: 1 }, condition: null, logFiles: [] });
    const size = statSync(join(dir, STATE_FILE)).size;
    assert.ok(size * 1.5 < MAX_STATE_FILE_BYTES, `largest state file ${size} bytes against a bound of ${MAX_STATE_FILE_BYTES}`);
    const back = await readStateFile(dir);
    assert.deepEqual(back.warnings, []);
    assert.equal((back.doc?.health as { gpus: unknown[] }).gpus.length, 64);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a state file over the bound is set aside unread, with a warning that says why, and the agent starts clean', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-state-bound-'));
  try {
    const path = join(dir, STATE_FILE);
    writeFileSync(path, '{"version":1,');
    truncateSync(path, 82 * 1024 * 1024); // sparse: its size is all the check looks at
    const r = await readStateFile(dir);
    assert.equal(r.doc, null);
    assert.match(r.warnings[0] ?? '', /state\.json: 85983232 bytes, over the 16 MiB limit for the state file; not read; kept as state\.json\.corrupt, starting clean/);
    assert.ok(existsSync(`${path}.corrupt`) && !existsSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
