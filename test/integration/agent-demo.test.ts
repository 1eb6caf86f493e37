// `gpu-health-agent demo` (what `npm run demo` runs) end to end, both ways it
// can feed the kernel log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MAIN, requireBuild } from '../helpers/agent-process.ts';

for (const mode of [[], ['--log-file']]) {
  test(`demo ${mode.join(' ') || '(on /dev/kmsg)'}: a GPU goes bad in status, exits 0 within 15 s`, () => {
    requireBuild();
    const started = Date.now();
    const r = spawnSync(process.execPath, [MAIN, 'demo', ...mode], { encoding: 'utf8', timeout: 15_000 });
    const took = Date.now() - started;
    assert.equal(r.status, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
    assert.ok(took < 15_000, `took ${took} ms`);
    const [before, after] = r.stdout.split('gpu-health-agent drill');
    assert.ok(before !== undefined && after !== undefined, r.stdout);
    // On the shared /dev/kmsg another test's fatal drill may land in the same
    // seconds; the demo's own GPU is what must go from absent to FATAL.
    const strict = mode.length > 0;
    assert.doesNotMatch(before, /0000:3b:00\.0\s+-\s+FATAL/);
    assert.match(before, strict ? /AcceleratedHardwareReady=True \(NvidiaGPUIsReady\)/ : /AcceleratedHardwareReady=/);
    assert.match(after, strict ? /AcceleratedHardwareReady=False \(NvidiaXID79Error\)/ : /AcceleratedHardwareReady=False/);
    assert.match(after, /0000:3b:00\.0\s+-\s+FATAL\s+NvidiaXID79Error x1 .*\(DRILL\)/);
    assert.match(r.stdout, mode.length === 0 ? /kernel log: \/dev\/kmsg/ : /kernel log: .*kern\.log/);
  });
}
