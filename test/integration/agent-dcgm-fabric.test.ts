// The real agent against the DCGM stand-in (stand-in libdcgm.so.4 and host
// engine on a real unix socket), for what DCGM adds in issue 14:
// - NVSwitch fabric health: Fabric Manager status and the fabric health mask, set
//   with `standin:dcgm -- fabric`. A fabric starting stays True; a failed one is
//   False; back to Success is True again; a GPU the fabric rejects is False.
// - GPUs that never come up: sysfs (--sysfs-root) lists three GPUs, the driver
//   logged RmInitAdapter failed for two (--log-file), DCGM lists two. The one DCGM
//   lists after all (a busy GPU the driver brought up) stays True; the one it does
//   not list is False after two looks, named by its PCI address.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setFabric } from '../../scripts/standin/dcgm-control.ts';
import { agentOnEngine, buildNative, standinCli } from './dcgm-harness.ts';
import { waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { cleanupAfter } from '../helpers/cleanup.ts';
import { syslogStamp } from '../helpers/log-lines.ts';
import { SysfsTree } from '../helpers/sysfs-tree.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const cleanup = cleanupAfter();
before(() => buildNative());

/** The stand-in's GPUs 0 and 1 are 0000:10:00.0 and 0000:11:00.0 (gpuPciBusId). */
const agentOnDcgm = (extra: (dir: string) => string[] = () => []) => agentOnEngine(cleanup, { kmsg: false, extra });

const condition = (a: AgentProcess, status: 'True' | 'False', also: (st: DebugState) => boolean = () => true) =>
  waitFor(`condition ${status}`, async () => {
    const st = await a.state();
    return st.condition.status === status && also(st) ? st : undefined;
  }, 5000, 50).then((r) => r.value);

const fabricFindings = (st: DebugState, pci: string) =>
  st.gpus.find((g) => g.pci === pci)?.findings.filter((f) => f.key.startsWith('fabric:')).map((f) => [f.key, f.severity, f.reason]) ?? [];

test('fabric: starting stays True, Fabric Manager failed is False, Success again is True, a rejected GPU is False', async () => {
  const { a, socket } = await agentOnDcgm();
  // Booting: Fabric Manager not started, then training the fabric.
  await setFabric(socket, 0, { manager: 'not-started', mask: 0 });
  await setFabric(socket, 0, { manager: 'in-progress' });
  const starting = await condition(a, 'True', (st) => fabricFindings(st, '0000:10:00.0').length > 0);
  assert.deepEqual(fabricFindings(starting, '0000:10:00.0'), [['fabric:manager', 'info', 'FabricManagerStarting']]);
  // Trained and healthy (0x1AA: every health field FALSE, configuration NONE): the starting finding goes.
  standinCli(['fabric', '--socket', socket, '--gpu', '0', '--manager', 'success', '--mask', '0x1AA']);
  await condition(a, 'True', (st) => fabricFindings(st, '0000:10:00.0').length === 0);

  await setFabric(socket, 0, { manager: 'failure' });
  const failed = await condition(a, 'False');
  assert.equal(failed.condition.reason, 'FabricManagerNotRunning');
  assert.match(failed.condition.message, /GPU 0 \(0000:10:00\.0, GPU-[0-9a-f-]+\): fabric manager failure/);
  await setFabric(socket, 0, { manager: 'success' });
  await condition(a, 'True');
  await a.waitForLine((l) => l.msg === 'would write event' && /the source that reported it says it is back to normal/.test(JSON.stringify(l.event)), 3000);

  // GPU 1 with too few NVLinks for the fabric (INCORRECT_CONFIGURATION 5).
  await setFabric(socket, 1, { manager: 'success', mask: 0x5aa });
  const rejected = await condition(a, 'False');
  assert.equal(rejected.condition.reason, 'NvidiaFabricError');
  assert.deepEqual(fabricFindings(rejected, '0000:11:00.0'), [['fabric:incorrect-configuration', 'fatal', 'NvidiaFabricError']]);
});

test('a GPU that never comes up: on the bus, RmInitAdapter failed, DCGM lacks it on two looks: False with its PCI address; a busy one stays True', async () => {
  const log = (dir: string) => path.join(dir, 'kern.log');
  let tree: SysfsTree | null = null;
  const { a, dir } = await agentOnDcgm((d) => {
    tree = new SysfsTree(path.join(d, 'sys'), ['0000:10:00.0', '0000:11:00.0', '0000:12:00.0'].map((bdf) => ({ bdf, vendor: '0x10de', cls: '0x030200' })));
    fs.writeFileSync(log(d), '');
    return ['--log-file', log(d), '--sysfs-root', tree.root, '--sysfs-interval', '200ms'];
  });
  assert.ok(tree !== null);
  const line = (pci: string) =>
    `${syslogStamp(Date.now())} gpu-node kernel: NVRM: GPU ${pci}: RmInitAdapter failed! (0x22:0x56:894)\n` +
    `${syslogStamp(Date.now())} gpu-node kernel: NVRM: GPU ${pci}: rm_init_adapter failed, device minor number 1\n`;

  // GPU 1 failed once, but DCGM lists it: the driver brought it up on a retry.
  fs.appendFileSync(log(dir), line('0000:11:00.0'));
  await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string }).reason === 'NvidiaGPUInitFailedWarning');
  const busy = await waitFor('the failure forgotten on a look', async () => {
    const st = await a.state();
    return st.devices.initFailed.length === 0 && st.gpus.find((g) => g.pci === '0000:11:00.0')?.findings.some((f) => f.key === 'event:gpu-init-failed') ? st : undefined;
  }, 5000, 50);
  assert.equal(busy.value.condition.status, 'True');

  // GPU 0000:12:00.0 is on the bus, failed to initialise, and DCGM does not list it.
  fs.appendFileSync(log(dir), line('0000:12:00.0'));
  const down = await condition(a, 'False');
  assert.equal(down.condition.reason, 'NvidiaGPUUnusableError');
  assert.match(down.condition.message, /NvidiaGPUUnusableError on GPU \(0000:12:00\.0\)/);
  const f = down.gpus.find((g) => g.pci === '0000:12:00.0')?.findings.find((x) => x.key === 'event:gpu-unusable');
  assert.deepEqual([f?.severity, f?.escalated, f?.sources], ['fatal', true, ['sysfs']]);
  assert.match(f?.detail ?? '', /not usable: DCGM lists 2 GPU\(s\), not this one/);
});
