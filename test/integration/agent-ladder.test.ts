// The repair ladder on the real agent: three boots (the boot id file changes, the
// state dir stays, as on a node that reboots), each with an Xid 79 on the same
// GPU in that boot's kernel log. After two reboots that ended with it, the third
// time the condition's reason is the replace-class NvidiaGPUFaultRecurring, the
// message names the boots, and an Event says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { MAIN, startAgentProcess, scratch, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { cleanupAfter } from '../helpers/cleanup.ts';
import { syslogStamp } from '../helpers/log-lines.ts';
import { SysfsTree } from '../helpers/sysfs-tree.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';

const { dirs, agents } = cleanupAfter();

const GPU = '0000:3b:00.0';

test('the same Xid 79 on the same GPU after two reboots: NvidiaGPUFaultRecurring, with the boots, and an Event', async () => {
  const s = scratch('boot-a');
  dirs.push(s.dir);
  const tree = new SysfsTree(join(s.dir, 'sys'), [{ bdf: GPU, vendor: '0x10de', cls: '0x030200' }]);
  const boot = async (bootId: string): Promise<{ a: AgentProcess; st: DebugState }> => {
    writeFileSync(s.bootIdFile, `${bootId}\n`);
    // A real reboot starts a new kernel log; each boot gets its own file.
    const log = join(s.dir, `kern-${bootId}.log`);
    writeFileSync(log, `${syslogStamp(Date.now())} gpu-node kernel: NVRM: Xid (PCI:${GPU.slice(0, -2)}): 79, pid=1, name=x, GPU has fallen off the bus.\n`);
    const a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--sysfs-root', tree.root, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run']);
    agents.push(a);
    const { value: st } = await waitFor(`False in ${bootId}`, async () => {
      const x = await a.state();
      return x.condition.status === 'False' ? x : undefined;
    }, 5000);
    return { a, st };
  };

  const one = await boot('boot-a');
  assert.equal(one.st.condition.reason, 'NvidiaXID79Error');
  assert.equal(await one.a.stop(), 0);
  const two = await boot('boot-b');
  assert.equal(two.st.condition.reason, 'NvidiaXID79Error', 'one reboot did not fix it: still a reboot');
  assert.deepEqual(two.st.boots.map((b) => [b.bootId, b.faults.map((f) => `${f.key}@${f.pci}`)]), [['boot-a', ['xid:79@0000:3b:00.0']]]);
  assert.equal(await two.a.stop(), 0);

  const three = await boot('boot-c');
  assert.equal(three.st.condition.reason, 'NvidiaGPUFaultRecurring');
  assert.match(three.st.condition.message, /NvidiaGPUFaultRecurring on GPU \(0000:3b:00\.0\): Xid 79 at .*, action REPLACE, back after 2 reboots that ended with it: boot boot-b \(last seen .*\), boot boot-a/);
  const f = three.st.gpus.find((g) => g.pci === GPU)?.findings.find((x) => x.key === 'xid:79');
  assert.deepEqual([f?.reason, f?.action, f?.recurring?.boots.map((b) => b.bootId)], ['NvidiaGPUFaultRecurring', 'REPLACE', ['boot-b', 'boot-a']]);
  const ev = await three.a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string }).reason === 'NvidiaGPUFaultRecurring');
  assert.match(JSON.stringify(ev), /Reboots do not fix it: replace the node/);
  const rules = JSON.parse((await three.a.get('/debug/rules')).body) as { ladder: { repairs: number; reason: string } };
  assert.deepEqual(rules.ladder, { repairs: 2, reason: 'NvidiaGPUFaultRecurring' });
  // The on-call engineer's view: the GPU's row and the history under it.
  const status = spawnSync(process.execPath, [MAIN, 'status', '--addr', three.a.addr], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /NvidiaGPUFaultRecurring x1 \[Xid 79, fatal, REPLACE\]/);
  assert.match(status.stdout, /earlier boots that ended with fatal findings: boot-b \(NvidiaXID79Error on 0000:3b:00\.0\); boot-a \(NvidiaXID79Error on 0000:3b:00\.0\)/);
});
