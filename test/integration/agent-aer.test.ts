// The real agent with a sysfs tree (--sysfs-root) that holds the kernel's AER
// counters of a GPU and the port above it, kernel lines through --log-file (user
// space cannot make the kernel write AER records), and an AER drill through the
// real /dev/kmsg. One correctable error stays True; a burst is a warning Event;
// another device's AER is nothing; a fatal error on the GPU's port is False.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { cleanupAfter } from '../helpers/cleanup.ts';
import { syslogStamp } from '../helpers/log-lines.ts';
import { drill, seedCursorAtEnd, uniquePci } from '../helpers/kmsg.ts';
import { SysfsTree } from '../helpers/sysfs-tree.ts';

const { dirs, agents } = cleanupAfter();

const GPU = '0000:3b:00.0';
const PORT = '0000:3a:00.0';
const NIC = '0000:5e:00.0';
const kernel = (text: string): string => `${syslogStamp(Date.now())} gpu-node kernel: ${text}\n`;
const events = (a: AgentProcess, reason: string) =>
  a.lines.filter((l) => l.msg === 'would write event' && (l.event as { reason?: string } | undefined)?.reason === reason);

test('AER on the GPU link: one correctable error True, a burst a warning Event, a NIC nothing, a fatal error on the port False', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const t = new SysfsTree(join(s.dir, 'sys'), [
    { bdf: '0000:00:01.0', vendor: '0x8086', cls: '0x060400' },
    { bdf: PORT, vendor: '0x10b5', cls: '0x060400', parent: '0000:00:01.0' },
    { bdf: GPU, vendor: '0x10de', cls: '0x030200', parent: PORT },
    { bdf: '0000:5d:00.0', vendor: '0x8086', cls: '0x060400' },
    { bdf: NIC, vendor: '0x15b3', cls: '0x020700', parent: '0000:5d:00.0' },
  ]);
  for (const d of [GPU, PORT, NIC]) t.aer(d, {});
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const a = await startAgentProcess([
    '--kmsg', 'none', '--log-file', log, '--sysfs-root', t.root, '--sysfs-interval', '200ms',
    '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run',
  ]);
  agents.push(a);
  await waitFor('ready', async () => ((await a.state()).ready ? true : undefined), 5000);
  const first = await a.state();
  assert.deepEqual([first.condition.status, first.devices.ports, first.devices.aerCounters], ['True', 1, 1]);

  // One correctable error: info in the state, no Event, True.
  t.aer(GPU, { correctable: 1 });
  const { value: one } = await waitFor('the correctable error seen', async () => {
    const st = await a.state();
    return st.gpus.find((g) => g.pci === GPU)?.findings.some((f) => f.key === 'event:pcie-aer-correctable') ? st : undefined;
  }, 5000);
  assert.equal(one.condition.status, 'True');
  assert.deepEqual(one.gpus.find((g) => g.pci === GPU)?.findings.map((f) => [f.severity, f.count, f.sources.join()]), [['info', 1, 'sysfs']]);
  assert.equal(events(a, 'NvidiaPCIeCorrectableWarning').length, 0);

  // A burst on the port's end of the link: more than 8 a minute, a warning Event, still True.
  t.aer(PORT, { correctable: 20 });
  await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string }).reason === 'NvidiaPCIeCorrectableWarning', 5000);
  const burst = await a.state();
  assert.equal(burst.condition.status, 'True');
  const f = burst.gpus.find((g) => g.pci === GPU)?.findings.find((x) => x.key === 'event:pcie-aer-correctable');
  assert.deepEqual([f?.severity, f?.escalated, f?.count], ['warning', true, 21]);
  const metrics = (await a.get('/metrics')).body;
  assert.match(metrics, /gpu_health_pcie_aer_errors_total\{pci="0000:3a:00\.0",of="0000:3b:00\.0",role="port",severity="correctable"\} 20/);
  assert.match(metrics, /gpu_health_pcie_aer_errors_total\{pci="0000:3b:00\.0",of="0000:3b:00\.0",role="device",severity="correctable"\} 1/);

  // Another device's fatal AER, counter and record: not this agent's business.
  t.aer(NIC, { fatal: 1 });
  appendFileSync(log, kernel(`mlx5_core ${NIC}: AER: PCIe Bus Error: severity=Uncorrectable (Fatal), type=Transaction Layer, (Requester ID)`));
  const { value: nic } = await waitFor('the NIC line read', async () => {
    const st = await a.state();
    return (st.sources.find((x) => x.source === 'logfile')?.recordsRead ?? 0) >= 1 ? st : undefined;
  }, 5000);
  assert.equal(nic.condition.status, 'True');
  assert.equal(nic.gpus.some((g) => g.pci === NIC), false);

  // The kernel's record of a fatal error on the GPU's port, through the log file (no counters rose: it counts).
  appendFileSync(log, kernel(`pcieport ${PORT}: AER: Uncorrectable (Fatal) error message received from ${GPU}`));
  appendFileSync(log, kernel(`pcieport ${PORT}: PCIe Bus Error: severity=Uncorrectable (Fatal), type=Transaction Layer, (Receiver ID)`));
  const { value: down } = await waitFor('False', async () => {
    const st = await a.state();
    return st.condition.status === 'False' ? st : undefined;
  }, 5000);
  assert.equal(down.condition.reason, 'NvidiaPCIeFatalError');
  assert.match(down.condition.message, /NvidiaPCIeFatalError on GPU \(0000:3b:00\.0\)/);
  const fatal = down.gpus.find((g) => g.pci === GPU)?.findings.find((x) => x.key === 'event:pcie-aer-fatal');
  assert.deepEqual([fatal?.count, fatal?.sources], [1, ['logfile']]);
  // The counter of the same error, read on the next look, is the same occurrence.
  t.aer(PORT, { correctable: 20, fatal: 1 });
  const { value: same } = await waitFor('the counter read', async () => {
    const x = (await a.state()).gpus.find((g) => g.pci === GPU)?.findings.find((y) => y.key === 'event:pcie-aer-fatal');
    return x?.sources.includes('sysfs') === true ? x : undefined;
  }, 5000);
  assert.deepEqual([same.count, same.sources.sort()], [1, ['logfile', 'sysfs']]);
});

test('an AER drill through the real /dev/kmsg: fatal, labelled drill', async () => {
  const s = scratch();
  dirs.push(s.dir);
  await seedCursorAtEnd(s.stateDir, s.bootId);
  // An empty sysfs: the drill names its GPU itself.
  const root = join(s.dir, 'sys');
  new SysfsTree(root, []);
  const a = await startAgentProcess(['--accept-drills', '--sysfs-root', root, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run']);
  agents.push(a);
  await waitFor('ready', async () => ((await a.state()).ready ? true : undefined), 5000);
  const pci = uniquePci();
  drill({ aer: 'correctable', pci });
  drill({ aer: 'fatal', pci });
  const { value: st } = await waitFor('False from the drill', async () => {
    const x = await a.state();
    return x.condition.status === 'False' ? x : undefined;
  }, 5000);
  assert.equal(st.condition.reason, 'NvidiaPCIeFatalError');
  assert.match(st.condition.message, /^\[drill\] NvidiaPCIeFatalError/);
  assert.deepEqual(st.gpus.find((g) => g.pci === pci)?.findings.map((f) => [f.key, f.drill]).sort(), [['event:pcie-aer-correctable', true], ['event:pcie-aer-fatal', true]]);
});
