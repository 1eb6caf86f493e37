// Operating the real agent: probes, rule reloads, operator clear, the status
// command, flag errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN, startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { drill, marker, seedCursorAtEnd, uniquePci } from '../helpers/kmsg.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function drillAgent(extra: string[] = []): Promise<{ a: AgentProcess; stateDir: string; dir: string }> {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--accept-drills', ...extra]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return { a, stateDir: s.stateDir, dir: s.dir };
}

const ours = (s: DebugState, pci: string) => s.gpus.find((g) => g.pci === pci);
const foreignFatal = (s: DebugState, pci: string) => s.gpus.some((g) => g.pci !== pci && g.health === 'fatal');

test('/readyz and the condition wait for the first full cycle (kernel log caught up)', async () => {
  const s = scratch();
  dirs.push(s.dir);
  // A FIFO as the kernel log: reads return EOF, not EAGAIN, until a writer opens
  // it, so the reader cannot finish its first replay before the test says so.
  const fifo = join(s.dir, 'kmsg.fifo');
  execFileSync('mkfifo', [fifo]);
  const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--kmsg', fifo]);
  agents.push(a);
  for (let i = 0; i < 5; i++) {
    const r = await a.get('/readyz');
    assert.equal(r.status, 503, `not ready before the replay is done (${r.body})`);
    await new Promise((res) => setTimeout(res, 200));
  }
  const st = await a.state();
  assert.equal(st.ready, false);
  assert.equal(st.condition.lastTransitionTime, null);
  assert.ok(!a.lines.some((l) => l.msg === 'would write node condition'), 'no condition is written before ready');
  assert.equal((await a.get('/healthz')).status, 200, 'alive while replaying');

  const w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 3000);
    const line = await a.waitForLine((l) => l.msg === 'would write node condition');
    assert.equal((line.condition as { status: string }).status, 'True');
    assert.equal((await a.state()).condition.reason, 'NvidiaGPUIsReady');
  } finally {
    closeSync(w);
  }
});

test('/healthz fails when the kernel-log reader died; the node is Unknown, never False', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--kmsg', join(s.dir, 'no-such-kmsg')]);
  agents.push(a);
  const { value: body } = await waitFor('healthz 503', async () => {
    const r = await a.get('/healthz');
    return r.status === 503 ? r.body : undefined;
  }, 3000);
  assert.match(body, /kmsg reader down: ENOENT/);
  const st = await a.state();
  assert.equal(st.sources.find((x) => x.source === 'kmsg')?.state, 'down');
  assert.equal(st.condition.status, 'Unknown');
  assert.equal(st.condition.reason, 'GPUHealthUnobservable');
  assert.match((await a.get('/metrics')).body, /gpu_health_source_up\{source="kmsg"\} 0/);
});

test('operator clear over the local control socket (one GPU, unknown GPU, all)', async () => {
  const { a, stateDir } = await drillAgent();
  const sock = statSync(join(stateDir, 'control.sock'));
  assert.ok(sock.isSocket());
  assert.equal(sock.mode & 0o777, 0o600, 'root only');
  const pci = uniquePci();
  const other = uniquePci();
  drill({ xid: 79, pci, text: marker() });
  drill({ xid: 79, pci: other, text: marker() });
  await waitFor('both findings', async () => {
    const st = await a.state();
    return ours(st, pci) !== undefined && ours(st, other) !== undefined ? true : undefined;
  });

  const one = cli('clear', '--gpu', pci, '--state-dir', stateDir);
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /cleared 1 finding/);
  let st = await a.state();
  assert.equal(ours(st, pci)?.findings.length ?? 0, 0);
  assert.equal(ours(st, other)?.health, 'fatal', 'the other GPU is untouched');

  const none = cli('clear', '--gpu', '9999:99:99.9', '--state-dir', stateDir);
  assert.equal(none.code, 1);
  assert.match(none.err, /no GPU named/);

  const all = cli('clear', '--state-dir', stateDir);
  assert.equal(all.code, 0, all.err);
  st = await a.state();
  assert.equal(ours(st, other)?.findings.length ?? 0, 0);
  if (!foreignFatal(st, pci)) assert.equal(st.condition.status, 'True');
  await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUFindingCleared');

  // One agent per state dir: a second one refuses to start rather than share the state file.
  const second = cli('run', '--state-dir', stateDir, '--kmsg', 'none', '--gpu-backend', 'none', '--log-file', join(stateDir, 'x.log'), '--debug-addr', '127.0.0.1:0', '--dry-run');
  assert.equal(second.code, 1);
  assert.match(second.out, /another agent is serving/);

  const away = cli('clear', '--state-dir', join(stateDir, 'nowhere'));
  assert.equal(away.code, 1);
  assert.match(away.err, /cannot reach the agent/);
});

test('rule file: a valid change applies live; a broken one is refused and the last good table stays', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const rules = join(s.dir, 'rules.yaml');
  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  43: {severity: fatal}\n');
  const { a } = await drillAgent(['--rules', rules]);
  const entry43 = async (): Promise<{ severity: string; origin: string }> => {
    const r = JSON.parse((await a.get('/debug/rules')).body) as { entries: Array<{ family: string; code: number; severity: string; origin: string }> };
    const e = r.entries.find((x) => x.family === 'xid' && x.code === 43);
    assert.ok(e !== undefined);
    return e;
  };
  assert.equal((await entry43()).severity, 'fatal');
  assert.equal((await entry43()).origin, rules);

  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  43: {severity: catastrophic}\n');
  await waitFor('refused reload counted', async () => (/gpu_health_rule_reloads_total\{result="refused"\} 1/.test((await a.get('/metrics')).body) ? true : undefined), 4000);
  await a.waitForLine((l) => l.msg === 'rule file refused; the last good table stays in force');
  await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthRulesRefused');
  assert.equal((await entry43()).severity, 'fatal', 'last good table stays');

  // Evidence is still classified by the last good table.
  const pci = uniquePci();
  drill({ xid: 43, pci, text: marker() });
  const { value: st } = await waitFor('Xid 43 fatal by the override', async () => {
    const x = await a.state();
    return ours(x, pci)?.health === 'fatal' ? x : undefined;
  });
  assert.equal(st.condition.status, 'False');
  assert.equal(st.rules.lastReload?.ok, false);

  // A valid change again is applied without a restart, and re-classifies what is there.
  writeFileSync(rules, 'apiVersion: gpu-health-agent/v1\nxid:\n  43: {severity: warning}\n');
  await waitFor('reload applied', async () => ((await entry43()).severity === 'warning' ? true : undefined), 4000);
  const { value: after2 } = await waitFor('finding re-classified', async () => {
    const x = await a.state();
    return ours(x, pci)?.health === 'warning' ? x : undefined;
  });
  if (!foreignFatal(after2, pci)) assert.equal(after2.condition.status, 'True');
  assert.match((await a.get('/metrics')).body, /gpu_health_rule_reloads_total\{result="ok"\} 2/);
});

test('status prints a table per GPU from the debug endpoint; the endpoint is read-only', async () => {
  const { a } = await drillAgent();
  const pci = uniquePci();
  drill({ xid: 79, pci, text: marker() });
  await waitFor('finding', async () => (ours(await a.state(), pci) !== undefined ? true : undefined));
  const r = cli('status', '--addr', a.addr);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /AcceleratedHardwareReady=False/);
  const row = r.out.split('\n').find((l) => l.includes(pci) && !l.startsWith(' '));
  assert.ok(row !== undefined, r.out);
  assert.match(row, /FATAL/);
  assert.match(row, /NvidiaXID79Error x1/);
  assert.match(row, /DRILL/);
  assert.match(r.out, /^SOURCE\s+STATE/m);
  assert.match(r.out, /^kmsg\s+up\s+yes/m);
  const j = cli('status', '--addr', a.addr, '--json');
  assert.equal((JSON.parse(j.out) as DebugState).condition.status, 'False');
  assert.equal(cli('status', '--addr', '127.0.0.1:1').code, 1);

  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await fetch(`http://${a.addr}/debug/state`, { method });
    assert.equal(res.status, 405);
  }
  assert.equal((await a.get('/healthz')).status, 200);
});

test('bad flags and config: a clear message and exit 2', () => {
  const bogus = cli('run', '--bogus');
  assert.equal(bogus.code, 2);
  assert.match(bogus.err, /unknown flag --bogus/);
  const dur = cli('run', '--heartbeat', 'often');
  assert.equal(dur.code, 2);
  assert.match(dur.err, /--heartbeat: expected a duration/);
  const s = scratch();
  dirs.push(s.dir);
  const cfg = join(s.dir, 'agent.yaml');
  writeFileSync(cfg, 'stateDir: /x\ndebugAdr: 1\n');
  const bad = cli('run', '--config', cfg);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /debugAdr/);
  const nothing = cli('run', '--kmsg', 'none', '--gpu-backend', 'none');
  assert.equal(nothing.code, 2);
  assert.match(nothing.err, /nothing to observe/);
});
