import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, writeStateFile, STATE_FILE } from '../../agent/runtime/state-file.ts';
import { createSaver } from '../../agent/runtime/saver.ts';

test('state file: atomic round trip, 0600, no temp files left; corrupt files are set aside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-state-'));
  try {
    assert.deepEqual(await readStateFile(dir), { doc: null, warnings: [] });
    const doc = { bootId: 'b1', savedAt: 5, health: { any: 'thing' }, cursor: { bootId: 'b1', seq: 42 }, condition: { status: 'False' as const, reason: 'R', message: 'm', lastTransitionTime: 7 } };
    await writeStateFile(join(dir, 'nested'), doc);
    const back = await readStateFile(join(dir, 'nested'));
    assert.deepEqual(back.doc, { version: 1, ...doc });
    assert.equal(statSync(join(dir, 'nested', STATE_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'nested')), [STATE_FILE]);

    writeFileSync(join(dir, STATE_FILE), '{"version":1,');
    const bad = await readStateFile(dir);
    assert.equal(bad.doc, null);
    assert.match(bad.warnings[0] ?? '', /not valid JSON.*starting clean/);
    assert.equal(readFileSync(join(dir, `${STATE_FILE}.corrupt`), 'utf8'), '{"version":1,');

    writeFileSync(join(dir, STATE_FILE), JSON.stringify({ version: 2, bootId: 'b' }));
    assert.match((await readStateFile(dir)).warnings[0] ?? '', /unexpected shape \(version/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('saver: many changes are one write; a failed write is retried on flush', async () => {
  let writes = 0;
  let fail = false;
  const results: Array<string | null> = [];
  const saver = createSaver(
    async () => {
      writes++;
      if (fail) throw new Error('disk full');
    },
    30,
    (err) => results.push(err === null ? null : err.message),
  );
  // The coalescing delay on node:test's clock, not the wall clock.
  mock.timers.enable({ apis: ['setTimeout'] });
  for (let i = 0; i < 50; i++) saver.markDirty();
  assert.equal(writes, 0, 'nothing before the delay');
  mock.timers.tick(30);
  mock.timers.reset();
  await saver.flush();
  assert.equal(writes, 1);
  fail = true;
  saver.markDirty();
  await saver.flush();
  assert.deepEqual(results, [null, 'disk full']);
  fail = false;
  await saver.flush();
  assert.equal(writes, 3, 'still dirty after a failure');
  await saver.flush();
  assert.equal(writes, 3, 'nothing to write');
  saver.stop();
});
