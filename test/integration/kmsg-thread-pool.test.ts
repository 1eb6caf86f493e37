// The kmsg reader parks one libuv pool thread in poll(2) while idle. The agent's
// entry grows the pool by one first, so fs, dns and koffi async calls still get
// four threads at once. Measured in a real process on the real /dev/kmsg: four
// 1-second blocking calls through koffi's async mode finish together (about 1 s),
// not in two rounds (about 2 s) as they would with the reader holding one of four.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

function probe(reserve: boolean): number {
  const script = `
    ${reserve ? "await import('./agent/runtime/thread-pool.ts');" : ''}
    const { KmsgReader } = await import('./agent/sources/kmsg/reader.ts');
    const { default: koffi } = await import('koffi');
    const sleep = koffi.load('libc.so.6').func('unsigned int sleep(unsigned int)');
    const r = new KmsgReader({ onRecords: () => {} });
    r.start();
    await r.whenCaughtUp();
    await new Promise((res) => setTimeout(res, 200)); // the reader is parked in poll(2) now
    const t0 = Date.now();
    await Promise.all([1, 2, 3, 4].map(() => new Promise((res) => sleep.async(1, res))));
    console.log(Date.now() - t0);
    await r.stop();
  `;
  const env = { ...process.env };
  delete env.UV_THREADPOOL_SIZE;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env, timeout: 30_000 });
  assert.equal(out.status, 0, out.stderr);
  return Number(out.stdout.trim());
}

test('the real /dev/kmsg is there (this suite needs it)', () => {
  fs.accessSync('/dev/kmsg', fs.constants.R_OK);
});

test('with the entry reserving a pool thread, a parked kmsg reader leaves libuv four threads', (t) => {
  const withReserve = probe(true);
  // The ring is shared: while other tests write to it the reader is reading, not parked in
  // poll(2), and holds no thread. Measure again (at most three times) until it was parked.
  let without = probe(false);
  for (let i = 0; i < 2 && without < 1900; i++) without = probe(false);
  t.diagnostic(`4 x sleep(1) on the pool: ${withReserve} ms with the reserve, ${without} ms without`);
  assert.ok(withReserve < 1700, `four calls should run together: ${withReserve} ms`);
  assert.ok(without >= 1900, `without the reserve the reader holds one of four threads: ${without} ms`);
});
