// The real agent process with --gpu-backend dcgm, the stand-in libdcgm.so.4
// (--dcgm-lib) and the stand-in host engine on a real unix socket, next to the
// real /dev/kmsg. A double-bit ECC error makes the condition False; the host
// engine dying changes nothing but the DCGM source's status (the kernel log
// still observes, so never Unknown, and never False because of it); a host
// engine that hangs a native call does not keep the agent from exiting on SIGTERM.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { injectField, setHang } from '../../scripts/standin/dcgm-control.ts';
import { gpuUuid } from '../../scripts/standin/dcgm-engine.ts';
import { agentOnEngine, buildNative, type AgentOnEngine, type Engine } from './dcgm-harness.ts';
import { waitFor } from '../helpers/agent-process.ts';
import { cleanupAfter } from '../helpers/cleanup.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const cleanup = cleanupAfter();
before(() => buildNative());

const engineAndAgent = (): Promise<AgentOnEngine> => agentOnEngine(cleanup);

const dcgm = (st: DebugState) => st.sources.find((s) => s.source === 'dcgm');

/** The engine goes away as when nv-hostengine dies: the process ends and its socket is gone. */
async function killEngine(engine: Engine, socket: string): Promise<void> {
  await engine.stop();
  fs.rmSync(socket, { force: true });
}

test('DBE injected -> False NvidiaDoubleBitError; engine dies -> condition unchanged, DCGM down', async () => {
  const { engine, socket, a } = await engineAndAgent();
  const healthy = await a.state();
  assert.equal(healthy.condition.status, 'True');
  assert.ok(healthy.gpus.some((g) => g.uuid === gpuUuid(0)), 'the DCGM inventory named our GPUs');

  await injectField(socket, 0, 311, 1); // DCGM_FI_DEV_ECC_DBE_VOL_TOTAL
  const { value: broken } = await waitFor('condition False from the DBE', async () => {
    const st = await a.state();
    return st.condition.status === 'False' ? st : undefined;
  }, 5000, 50);
  assert.equal(broken.condition.reason, 'NvidiaDoubleBitError');
  const g = broken.gpus.find((x) => x.uuid === gpuUuid(0));
  assert.equal(g?.pci, '0000:10:00.0');
  assert.deepEqual(g?.findings.map((f) => [f.reason, f.severity, f.sources.join(',')]), [['NvidiaDoubleBitError', 'fatal', 'dcgm']]);

  await killEngine(engine, socket);
  const { value: after } = await waitFor('DCGM down', async () => {
    const st = await a.state();
    return dcgm(st)?.state === 'down' ? st : undefined;
  }, 5000, 50);
  assert.equal(after.condition.status, 'False');
  assert.equal(after.condition.reason, 'NvidiaDoubleBitError');
  assert.equal(after.condition.lastTransitionTime, broken.condition.lastTransitionTime);
  assert.match(dcgm(after)!.detail, /he\.sock/);
  assert.equal(after.sources.find((s) => s.source === 'kmsg')?.state, 'up');
});

test('engine dies while healthy: condition stays True, its message names DCGM down; never False, never Unknown', async () => {
  const { engine, socket, a } = await engineAndAgent();
  const before = await a.state();
  assert.equal(before.condition.status, 'True');
  assert.doesNotMatch(before.condition.message, /DCGM unreachable/);

  await killEngine(engine, socket);
  const { value: st } = await waitFor('DCGM named down in the True condition', async () => {
    const x = await a.state();
    return dcgm(x)?.state === 'down' && /DCGM unreachable/.test(x.condition.message) ? x : undefined;
  }, 5000, 50);
  assert.equal(st.condition.status, 'True');
  assert.equal(st.condition.reason, 'NvidiaGPUIsReady');
  assert.equal(st.condition.lastTransitionTime, before.condition.lastTransitionTime);
  // It stays that way over more failed reconnects.
  await new Promise((r) => setTimeout(r, 1000));
  const later = await a.state();
  assert.equal(later.condition.status, 'True');
  assert.ok(!a.lines.some((l) => l.msg === 'would write node condition' && (l.condition as { status: string }).status !== 'True'), 'no condition write other than True');
  const down = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthSourceDown');
  assert.match((down.event as { note: string }).note, /^DCGM is down/);
});

test('SIGTERM while a DCGM call hangs in native code: state flushed, the process exits within the bound', async () => {
  const { socket, a, stateDir } = await engineAndAgent();
  await setHang(socket, true);
  // The next probe parks in the library's recv(); the source says hung once its call timeout passes.
  await waitFor('DCGM hung', async () => (dcgm(await a.state())?.state === 'hung' ? true : undefined), 15_000, 100);
  const t0 = Date.now();
  a.proc.kill('SIGTERM');
  const code = await Promise.race([a.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 15_000))]);
  const ms = Date.now() - t0;
  console.log(`# SIGTERM with a hung DCGM call -> exit in ${ms} ms`);
  assert.notEqual(code, 'alive', 'the agent is still running 15 s after SIGTERM');
  assert.ok(ms < 8000, `exit took ${ms} ms; bound is 5 s stop + 1 s grace`);
  assert.equal(a.proc.signalCode, 'SIGKILL', 'ended itself with SIGKILL: nothing else gets past a thread stuck in native code');
  assert.ok(a.lines.some((l) => l.msg === 'stopped'), 'stop() finished before the forced exit');
  assert.ok(a.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('a native call is stuck')));
  const saved = JSON.parse(fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')) as { condition: { status: string } | null };
  assert.equal(saved.condition?.status, 'True', 'the state file was written before the exit');
});
