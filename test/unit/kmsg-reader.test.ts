// Reader behaviour that needs no kernel: rate-limited reopen on errors, liveness
// of a dead reader, prompt stop, boot-id injection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KmsgReader } from '../../agent/sources/kmsg/reader.ts';
import { sleep } from '../helpers/wait.ts';


function bootIdFile(dir: string, id: string): string {
  const p = path.join(dir, 'boot_id');
  fs.writeFileSync(p, `${id}\n`);
  return p;
}

test('open errors reopen at most once per reopenMinDelayMs and the reader reports itself dead', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-kmsg-'));
  const errors: string[] = [];
  const r = new KmsgReader({
    path: path.join(dir, 'missing'), bootIdPath: bootIdFile(dir, 'boot-a'),
    reopenMinDelayMs: 200, onRecords: () => {}, onError: (code) => errors.push(code),
  });
  assert.equal(r.bootId, 'boot-a');
  r.start();
  // Real time on purpose: the reader's own reopen rate limit, on a real missing path.
  await sleep(1000);
  const l = r.liveness();
  assert.equal(l.alive, false);
  assert.match(l.lastError ?? '', /^ENOENT/);
  // 1 s at >= 200 ms apart: 5 or 6 tries, never a hot loop.
  assert.ok(errors.length >= 3 && errors.length <= 6, `tries: ${errors.length}`);
  assert.ok(errors.every((c) => c === 'ENOENT'));
  const t = Date.now();
  await r.stop();
  assert.ok(Date.now() - t < 500, 'stop interrupts the reopen wait');
  fs.rmSync(dir, { recursive: true });
});

test('read errors after a successful open close and reopen, rate-limited, counted', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-kmsg-'));
  const errors: string[] = [];
  // Opening a directory works, reading it fails with EISDIR.
  const r = new KmsgReader({
    path: dir, bootIdPath: bootIdFile(dir, 'boot-a'), reopenMinDelayMs: 250,
    onRecords: () => {}, onError: (code) => errors.push(code),
  });
  r.start();
  // Real time on purpose: reopen pacing after real read errors (EISDIR).
  await sleep(1100);
  const l = r.liveness();
  await r.stop();
  assert.ok(errors.length >= 3 && errors.length <= 5, `errors: ${errors.length}`);
  assert.ok(errors.every((c) => c === 'EISDIR'));
  assert.equal(l.reopenCount, errors.length - 1);
  assert.equal(l.alive, false);
  assert.ok(l.lastBeatAt !== null && Date.now() - l.lastBeatAt < 3000, 'reader heartbeat is fresh');
  fs.rmSync(dir, { recursive: true });
});

test('a cursor from another boot is ignored; one from this boot is kept', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-kmsg-'));
  const bootIdPath = bootIdFile(dir, 'boot-b');
  const other = new KmsgReader({ bootIdPath, cursor: { bootId: 'boot-a', seq: 42 }, onRecords: () => {} });
  assert.equal(other.cursor(), null);
  const same = new KmsgReader({ bootIdPath, cursor: { bootId: 'boot-b', seq: 42 }, onRecords: () => {} });
  assert.deepEqual(same.cursor(), { bootId: 'boot-b', seq: 42 });
  fs.rmSync(dir, { recursive: true });
});
