// The real agent process on the real /dev/kmsg, driven by drills. Other tests
// write drills into the same ring buffer concurrently, so assertions are about
// this test's own GPU (a unique PCI domain) and tolerate foreign findings.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { drill, marker, seedCursorAtEnd, uniquePci } from '../helpers/kmsg.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function agentWithDrills(extra: string[] = []): Promise<AgentProcess> {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', ...extra]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return a;
}

const gpuOf = (s: DebugState, pci: string) => s.gpus.find((g) => g.pci === pci);
const foreignFatal = (s: DebugState, pci: string) => s.gpus.some((g) => g.pci !== pci && g.health === 'fatal');

test('fatal drill: condition False with the drill finding within a second, labelled drill', async () => {
  const a = await agentWithDrills(['--accept-drills']);
  const pci = uniquePci();
  const tag = marker();
  const before = await a.state();
  assert.equal(before.ready, true);
  if (!foreignFatal(before, pci)) assert.equal(before.condition.status, 'True');

  drill({ xid: 79, pci, text: tag });
  const { value: s, ms } = await waitFor(
    'condition False from our drill',
    async () => {
      const st = await a.state();
      const g = gpuOf(st, pci);
      return st.condition.status === 'False' && g?.health === 'fatal' ? st : undefined;
    },
    1000,
    10,
  );
  console.log(`# kernel record -> /debug/state condition False: ${ms} ms`);
  const g = gpuOf(s, pci);
  assert.ok(g !== undefined);
  const f = g.findings.find((x) => x.key === 'xid:79');
  assert.ok(f !== undefined, 'Xid 79 finding on our GPU');
  assert.equal(f.reason, 'NvidiaXID79Error');
  assert.equal(f.severity, 'fatal');
  assert.equal(f.drill, true);
  assert.equal(f.count, 1);
  assert.match(f.detail, new RegExp(tag));
  if (!foreignFatal(s, pci)) assert.equal(s.condition.reason, 'NvidiaXID79Error');
  assert.match(s.condition.message, /\[drill\]/);
  assert.ok(s.condition.lastTransitionTime !== null);

  // The drill label reaches the metrics and the Event log line too.
  const metrics = (await a.get('/metrics')).body;
  assert.match(metrics, /gpu_health_findings\{reason="NvidiaXID79Error",severity="fatal",drill="true"\} [1-9]/);
  assert.match(metrics, /gpu_health_condition_status\{type="AcceleratedHardwareReady",status="False"\} 1/);
  const ev = await a.waitForLine((l) => l.msg === 'would write event' && JSON.stringify(l).includes(tag));
  // As the Event would reach the API server: the drill in its action and its note.
  assert.equal((ev.event as { action: string }).action, 'Drill');
  assert.match((ev.event as { note: string }).note, /^\[drill\] /);
});

test('warning drill: a finding, but no change to the condition', async () => {
  const a = await agentWithDrills(['--accept-drills']);
  const pci = uniquePci();
  const before = await a.state();
  drill({ xid: 43, pci, text: marker() });
  const { value: s } = await waitFor('warning finding', async () => {
    const st = await a.state();
    return gpuOf(st, pci)?.findings.some((f) => f.key === 'xid:43') === true ? st : undefined;
  });
  const g = gpuOf(s, pci);
  assert.equal(g?.health, 'warning');
  assert.equal(g?.findings[0]?.reason, 'NvidiaXID43Warning');
  // Our GPU never makes the node False: any fatal finding belongs to another test's GPU.
  if (!foreignFatal(s, pci)) {
    assert.equal(s.condition.status, 'True');
    assert.equal(s.condition.lastTransitionTime, before.condition.lastTransitionTime);
  }
  assert.doesNotMatch(s.condition.reason, /XID43/);
});

test('without --accept-drills a drill is counted and ignored', async () => {
  const a = await agentWithDrills();
  const pci = uniquePci();
  drill({ xid: 79, pci, text: marker() });
  const { value: s } = await waitFor('drill counted as ignored', async () => {
    const st = await a.state();
    return st.drillsIgnored >= 1 ? st : undefined;
  });
  assert.equal(gpuOf(s, pci), undefined);
  assert.equal(s.condition.status, 'True');
  assert.match((await a.get('/metrics')).body, /gpu_health_drills_ignored_total [1-9]/);
});

test('a drill finding left behind does not survive a restart without --accept-drills', async () => {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const args = ['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run'];
  const a = await startAgentProcess([...args, '--accept-drills']);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  const pci = uniquePci();
  drill({ xid: 79, pci, text: marker() });
  await waitFor('drill finding', async () => (gpuOf(await a.state(), pci)?.health === 'fatal' ? true : undefined), 3000);
  assert.equal(await a.stop(), 0);

  // The rehearsal is over and drills are switched off, but nobody ran `clear`.
  const b = await startAgentProcess(args);
  agents.push(b);
  const { value: st } = await waitFor('ready', async () => {
    const x = await b.state();
    return x.ready ? x : undefined;
  }, 5000);
  assert.equal(gpuOf(st, pci)?.findings.length ?? 0, 0, 'the drill finding was dropped at start');
  assert.equal(st.condition.status, 'True');
  const cleared = await b.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string }).reason === 'GPUFindingCleared');
  assert.match(JSON.stringify(cleared), /without --accept-drills/);
});
