// The real agent process with NVIDIA's own libnvidia-ml.so.1 (driver 535, no
// kernel driver here), next to the real /dev/kmsg, with --gpu-backend nvml and
// auto: NVML is down with NVIDIA's own error text in /debug/state, `status` and
// the GPUHealthSourceDown Event, while the kernel log is read and the condition
// is only ever True (never False, never Unknown). Drills are not accepted, so
// records other tests write to the shared ring cannot make it False.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { MAIN, scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { seedCursorAtEnd } from '../helpers/kmsg.ts';
import { DRIVER_NOT_LOADED, nvidiaArtifacts, type NvidiaArtifacts } from '../helpers/nvidia-artifacts.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
let nv: NvidiaArtifacts;
before(() => {
  nv = nvidiaArtifacts();
});
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const source = (st: DebugState, name: string) => st.sources.find((s) => s.source === name);

async function agentWith(backend: 'nvml' | 'auto'): Promise<{ a: AgentProcess; st: DebugState; noEngine: string }> {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const noEngine = `unix://${s.dir}/no-hostengine.sock`;
  const a = await startAgentProcess([
    '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run',
    '--gpu-backend', backend, '--nvml-lib', nv.lib, '--dcgm-address', noEngine,
  ]);
  agents.push(a);
  const { value: st } = await waitFor('ready with NVML down', async () => {
    const x = await a.state();
    return x.ready && source(x, 'nvml')?.state === 'down' ? x : undefined;
  }, 10_000, 50);
  return { a, st, noEngine };
}

for (const backend of ['nvml', 'auto'] as const) {
  describe(`run --gpu-backend ${backend} --nvml-lib <NVIDIA's libnvidia-ml.so.1 535>`, () => {
    it("NVML is down with NVIDIA's error in /debug/state, status and the Event; the condition stays True while the kernel log is read", async () => {
      const { a, st, noEngine } = await agentWith(backend);
      const cause = `${nv.lib}: ${DRIVER_NOT_LOADED}`;

      assert.equal(source(st, 'nvml')?.detail, cause);
      assert.equal(source(st, 'dcgm')?.state, 'disabled');
      assert.equal(source(st, 'dcgm')?.detail, backend === 'auto' ? `gpu backend auto: no DCGM host engine at ${noEngine}` : 'gpu backend nvml');
      const kmsg = source(st, 'kmsg');
      assert.equal(kmsg?.state, 'up', 'the kernel log is read');
      assert.equal(kmsg?.caughtUp, true);
      assert.equal(st.condition.status, 'True');
      assert.equal(st.condition.reason, 'NvidiaGPUIsReady');
      assert.match(st.condition.message ?? '', /NVML unreachable/);

      const status = spawnSync(process.execPath, [MAIN, 'status', '--addr', a.addr], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(status.status, 0, status.stderr);
      const row = status.stdout.split('\n').find((l) => /^nvml\s/.test(l));
      assert.ok(row?.includes(cause), `status shows the cause: ${status.stdout}`);

      const event = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string }).reason === 'GPUHealthSourceDown');
      const e = event.event as { type: string; note: string; regarding: { kind: string } };
      assert.equal(e.type, 'Warning');
      assert.equal(e.regarding.kind, 'Node');
      assert.ok(e.note.includes(DRIVER_NOT_LOADED), e.note);

      await new Promise((r) => setTimeout(r, 1500)); // several NVML reconnect attempts
      const conditions = a.lines.filter((l) => l.msg === 'would write node condition').map((l) => (l.condition as { status: string }).status);
      assert.ok(conditions.length > 0, 'a condition was written');
      assert.deepEqual([...new Set(conditions)], ['True'], 'only True: never False, never Unknown');
      assert.equal((await a.state()).condition.status, 'True');
      assert.equal(await a.stop(), 0);
    });
  });
}
