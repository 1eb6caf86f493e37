// Pod impact through the real agent process: a kubelet-shaped pod-resources
// gRPC server on a real unix socket says which pods hold which GPU; a kernel
// log file carries the driver's identity line (PCI -> UUID) and an Xid on that
// GPU. The pods must show per GPU in /debug/state and `status`, be named in the
// node Event's note, and with --pod-events get Events of their own. Without
// the socket the agent runs on and says pod info is unavailable.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN, scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { startFakeKubelet, type FakeKubelet } from '../helpers/fake-kubelet.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const UUID_A = 'GPU-0a1b2c3d-0000-1111-2222-333344445555';
const UUID_B = 'GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff';
const PCI_A = '0000:3b:00.0';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
const kubelets: FakeKubelet[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const k of kubelets) await k.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function agentOnLogFile(extra: string[]): Promise<{ a: AgentProcess; log: string; dir: string }> {
  const s = scratch();
  dirs.push(s.dir);
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', ...extra]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return { a, log, dir: s.dir };
}

/** What the NVIDIA driver prints: the identity line at probe time, then the fault. */
function xid79(log: string): void {
  appendFileSync(log, `[  5.100000] NVRM: GPU at PCI:${PCI_A}: ${UUID_A}\n`);
  appendFileSync(log, `[912.500000] NVRM: Xid (PCI:${PCI_A}): 79, pid=4242, name=python3, GPU has fallen off the bus.\n`);
}

const events = (a: AgentProcess) =>
  a.lines.filter((l) => l.msg === 'would write event').map((l) => l.event as { reason: string; note: string; regarding: { kind: string; namespace?: string; name: string } });

test('pods holding the faulty GPU: per GPU in /debug/state and status, in the node Event note, and an Event per Pod', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const kubelet = await startFakeKubelet(join(s.dir, 'kubelet.sock'), [
    { namespace: 'ml', name: 'trainer-0', containers: { main: [UUID_A, UUID_B], sidecar: [] } },
    { namespace: 'dev', name: 'other', containers: { c: [UUID_A] } },
    { namespace: 'ml', name: 'trainer-1', containers: { main: [UUID_B] } },
  ]);
  kubelets.push(kubelet);
  const { a, log } = await agentOnLogFile(['--pod-resources-socket', kubelet.socket, '--pod-events']);
  // The kubelet client loads on first use; on a loaded machine that first call can miss its
  // deadline, and a notice then goes out without pods (they are a courtesy). Let it answer once.
  await waitFor('the kubelet answered', async () => ((await a.state()).podResources.state === 'up' ? true : undefined), 10_000, 100);
  xid79(log);

  const { value: st } = await waitFor('the Xid 79 finding on our GPU, with pods', async () => {
    const x = await a.state();
    const g = x.gpus.find((gpu) => gpu.pci === PCI_A);
    return g?.health === 'fatal' && g.pods !== null ? x : undefined;
  }, 5000, 50);
  const g = st.gpus.find((gpu) => gpu.pci === PCI_A)!;
  assert.equal(g.uuid, UUID_A, 'the identity line mapped the PCI address to the UUID');
  assert.deepEqual(g.pods, [
    { namespace: 'ml', name: 'trainer-0', container: 'main' },
    { namespace: 'dev', name: 'other', container: 'c' },
  ]);
  assert.equal(st.podResources.state, 'up');
  assert.equal(st.podResources.socket, kubelet.socket);
  assert.ok(st.podResources.fetchedAt !== null);
  assert.equal(st.condition.status, 'False');
  assert.equal(st.condition.reason, 'NvidiaXID79Error');

  // The node Event names the pods; each Pod gets an Event regarding it.
  const nodeEvent = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { regarding: { kind: string } }).regarding.kind === 'Node' && (l.event as { reason: string }).reason === 'NvidiaXID79Error');
  assert.match((nodeEvent.event as { note: string }).note, /Pods on this GPU: ml\/trainer-0 \(main\), dev\/other \(c\)\.$/);
  await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { regarding: { name: string } }).regarding.name === 'other');
  const podEvents = events(a).filter((e) => e.regarding.kind === 'Pod');
  assert.deepEqual(
    podEvents.map((e) => `${e.reason} ${e.regarding.namespace}/${e.regarding.name}`).sort(),
    ['NvidiaXID79Error dev/other', 'NvidiaXID79Error ml/trainer-0'],
    'one Event per Pod on the faulty GPU; trainer-1 holds only the healthy GPU',
  );
  assert.match(podEvents.find((e) => e.regarding.name === 'trainer-0')!.note, /^Container main of this Pod holds a GPU with a hardware finding: NvidiaXID79Error/);

  // `status` shows them too.
  const table = execFileSync(process.execPath, [MAIN, 'status', '--addr', a.addr], { encoding: 'utf8' });
  const row = table.split('\n').find((l) => l.includes(PCI_A) && l.includes('FATAL'));
  assert.ok(row !== undefined, table);
  assert.match(row, /ml\/trainer-0, dev\/other$/);
  assert.doesNotMatch(table, /pods: unavailable/);
  assert.ok(kubelet.listCalls >= 1);
});

test('no pod-resources socket: the agent runs, the finding and Event go out without pods, pod info unavailable', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const missing = join(s.dir, 'no-kubelet.sock');
  const { a, log } = await agentOnLogFile(['--pod-resources-socket', missing, '--pod-events']);
  xid79(log);
  const { value: st } = await waitFor('the finding, pod lookup tried', async () => {
    const x = await a.state();
    const g = x.gpus.find((gpu) => gpu.pci === PCI_A);
    return g?.health === 'fatal' && x.podResources.state === 'down' ? x : undefined;
  }, 5000, 50);
  const g = st.gpus.find((gpu) => gpu.pci === PCI_A)!;
  assert.equal(g.pods, null, 'unknown, not "no pods"');
  assert.match(st.podResources.detail, /no-kubelet\.sock/);
  assert.equal(st.condition.reason, 'NvidiaXID79Error');
  const ev = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'NvidiaXID79Error');
  assert.doesNotMatch((ev.event as { note: string }).note, /Pods on this GPU/);
  assert.equal(events(a).filter((e) => e.regarding.kind === 'Pod').length, 0);
  const table = execFileSync(process.execPath, [MAIN, 'status', '--addr', a.addr], { encoding: 'utf8' });
  assert.match(table, /pods: unavailable \(.*no-kubelet\.sock/);
  assert.equal((await a.get('/healthz')).status, 200);
  assert.equal(await a.stop(), 0);
});

test('--pod-resources-socket none: pod info disabled, never looked up', async () => {
  const { a, log } = await agentOnLogFile(['--pod-resources-socket', 'none']);
  xid79(log);
  const { value: st } = await waitFor('the finding', async () => {
    const x: DebugState = await a.state();
    return x.gpus.some((gpu) => gpu.pci === PCI_A && gpu.health === 'fatal') ? x : undefined;
  });
  assert.equal(st.podResources.state, 'disabled');
  assert.equal(st.gpus.find((gpu) => gpu.pci === PCI_A)?.pods, null);
});
