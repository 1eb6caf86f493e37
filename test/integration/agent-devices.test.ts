// The real agent with a sysfs tree (--sysfs-root) that lists this node's NVIDIA
// devices: a kernel record naming another device is a warning and a count, never
// a finding; the same record on a listed GPU is fatal. Kernel lines come through
// --log-file (user space cannot write kernel-facility records to /dev/kmsg).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { syslogStamp } from '../helpers/log-lines.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** <root>/bus/pci/devices/<bdf>/{vendor,class,device}, as the kernel lays it out. */
function sysfs(root: string, devices: Array<{ bdf: string; vendor: string; cls: string }>): void {
  for (const d of devices) {
    const dir = join(root, 'bus/pci/devices', d.bdf);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vendor'), `${d.vendor}\n`);
    writeFileSync(join(dir, 'class'), `${d.cls}\n`);
    writeFileSync(join(dir, 'device'), '0x2330\n');
  }
}

const line = (pci: string, code: number): string =>
  `${syslogStamp(Date.now())} gpu-node kernel: NVRM: Xid (PCI:${pci.slice(0, -2)}): ${code}, pid=1, name=x, GPU has fallen off the bus.\n`;

test('a kernel record must name one of the NVIDIA devices sysfs lists', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const root = join(s.dir, 'sys');
  sysfs(root, [
    { bdf: '0000:3b:00.0', vendor: '0x10de', cls: '0x030200' }, // 3D controller: a GPU
    { bdf: '0000:3b:00.1', vendor: '0x10de', cls: '0x040300' }, // its audio function: not a GPU
    { bdf: '0000:c3:00.0', vendor: '0x10de', cls: '0x068000' }, // an NVSwitch
    { bdf: '0000:5e:00.0', vendor: '0x8086', cls: '0x030000' }, // someone else's display controller
  ]);
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, line('0000:5e:00.0', 79) + line('0000:86:00.0', 48));
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--sysfs-root', root, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run']);
  agents.push(a);
  const { value: st } = await waitFor('both records seen', async () => {
    const x = await a.state();
    return x.ready && (x.devices.foreignRecords.logfile ?? 0) >= 2 ? x : undefined;
  }, 5000);
  assert.deepEqual([st.devices.known, st.devices.enforced, st.devices.byOrigin], [2, true, { sysfs: 2 }]);
  assert.equal(st.condition.status, 'True');
  assert.deepEqual(st.totals, { fatal: 0, warning: 0, info: 0 });
  assert.equal(st.devices.lastForeign?.pci, '0000:86:00.0');
  assert.equal(st.sources.find((x) => x.source === 'logfile')?.rejected?.['foreign-device'], 2);
  const warned = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string } | undefined)?.reason === 'GPUHealthRecordRejected');
  assert.match(JSON.stringify(warned), /not one of this node's 2 NVIDIA devices/);
  const metrics = (await a.get('/metrics')).body;
  assert.match(metrics, /gpu_health_records_rejected_total\{source="logfile",reason="foreign-device"\} 2/);
  assert.match(metrics, /gpu_health_devices_known 2/);

  // The same record on the node's own GPU is the fault it says.
  appendFileSync(log, line('0000:3b:00.0', 79));
  const { value: down } = await waitFor('False', async () => {
    const x = await a.state();
    return x.condition.status === 'False' ? x : undefined;
  }, 5000);
  assert.equal(down.condition.reason, 'NvidiaXID79Error');
  assert.equal(down.gpus.find((g) => g.pci === '0000:3b:00.0')?.health, 'fatal');
});
