import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPersistence } from '../../agent/runtime/persistence.ts';

test('state-file write failures: one Warning Event when persistence stops, one line per distinct error, a Normal Event when it is back', () => {
  const p = createPersistence('/var/lib/x', 1000);
  assert.deepEqual(p.written(null, 1100), { notices: [], log: null });
  assert.equal(p.view().ok, true);
  p.controlSocketDown('/var/lib/x/control.sock', new Error('listen EROFS: read-only file system'));

  const first = p.written(new Error('EROFS: read-only file system, open state.json.tmp-1'), 2000);
  assert.equal(first.notices.length, 1);
  assert.equal(first.notices[0]?.type, 'Warning');
  assert.equal(first.notices[0]?.reason, 'GPUHealthStateNotPersisted');
  assert.match(first.notices[0]?.note ?? '', /\/var\/lib\/x cannot be written \(EROFS.*Monitoring continues\. The control socket is unavailable too/);
  assert.equal(first.log?.level, 'error');
  assert.deepEqual(p.view(), { ok: false, since: 2000, detail: 'not persisted: EROFS: read-only file system, open state.json.tmp-1', controlSocket: { ok: false, path: '/var/lib/x/control.sock', detail: 'listen EROFS: read-only file system' } });

  assert.deepEqual(p.written(new Error('EROFS: read-only file system, open state.json.tmp-1'), 2200), { notices: [], log: null }, 'the same failure again: counted only');
  const other = p.written(new Error('ENOSPC: no space left on device'), 2400);
  assert.deepEqual(other.notices, [], 'still one Event');
  assert.equal(other.log?.level, 'error', 'a new error is logged');
  assert.equal(p.view().since, 2000);

  const back = p.written(null, 3000);
  assert.equal(back.notices[0]?.type, 'Normal');
  assert.equal(back.notices[0]?.reason, 'GPUHealthStatePersisted');
  assert.equal(back.notices[0]?.key, first.notices[0]?.key, 'one Event series');
  assert.equal(back.log?.level, 'info');
  assert.deepEqual({ ok: p.view().ok, since: p.view().since }, { ok: true, since: 3000 });
});
