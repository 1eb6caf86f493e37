// `gpu-health-agent demo`: the real agent, end to end, in a few seconds. It
// starts `gpu-health-agent run` (dry run, drills accepted, a temporary state
// dir), shows `status`, injects a fatal drill into the kernel log (/dev/kmsg
// when it is writable, else a temporary kernel log file), shows `status` again
// once the GPU has gone bad, and stops the agent.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from './command.ts';
import { fetchState } from './status.ts';
import { formatStatus } from './status-table.ts';
import { formatDrill, writeDrill } from '../sources/kmsg/drill.ts';
import { seedCursorAtEnd } from '../runtime/seed.ts';
import { readBootId } from '../runtime/boot-id.ts';
import type { DebugState } from '../runtime/inspect/state-types.ts';
import { errorText } from '../model/text.ts';

const PCI = '0000:3b:00.0';
const DEADLINE_MS = 12_000;

function kmsgUsable(): boolean {
  try {
    accessSync('/dev/kmsg', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function say(text: string): void {
  process.stdout.write(text);
}

async function until<T>(what: string, deadline: number, fn: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const command: Command = {
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      say('usage: gpu-health-agent demo [--log-file]\n\nStarts the agent (dry run, drills accepted, temporary state), injects a fatal\nXid 79 drill and shows `status` before and after. Needs no GPU and no cluster.\n  --log-file   use a temporary kernel log file even where /dev/kmsg is writable\n');
      return 0;
    }
    const unknown = args.filter((a) => a !== '--log-file');
    if (unknown.length > 0) {
      process.stderr.write(`demo: unknown argument ${unknown[0]}\n`);
      return 2;
    }
    const deadline = Date.now() + DEADLINE_MS;
    const dir = mkdtempSync(join(tmpdir(), 'gpu-health-demo-'));
    const stateDir = join(dir, 'state');
    const useKmsg = !args.includes('--log-file') && kmsgUsable();
    const kernLog = join(dir, 'kern.log');
    const source: string[] = [];
    if (useKmsg) {
      // Start from the end of the ring buffer, so drills from earlier runs stay in the past.
      await seedCursorAtEnd(stateDir, await readBootId('/proc/sys/kernel/random/boot_id'));
      source.push('--kmsg', '/dev/kmsg');
    } else {
      writeFileSync(kernLog, '');
      source.push('--kmsg', 'none', '--log-file', kernLog);
    }
    const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../main.ts' : '../main.js', import.meta.url));
    const runArgs = ['run', '--state-dir', stateDir, '--debug-addr', '127.0.0.1:0', '--dry-run', '--accept-drills', '--gpu-backend', 'none', '--node-name', 'demo-node', ...source];
    say(`$ gpu-health-agent ${runArgs.join(' ')}\n`);
    say(`  (kernel log: ${useKmsg ? '/dev/kmsg' : `${kernLog}, because /dev/kmsg is not writable here or --log-file was given`})\n\n`);

    const agent: ChildProcess = spawn(process.execPath, [main, ...runArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    const logLines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buf = '';
    agent.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        try {
          logLines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
        } catch {
          // not a log line
        }
        buf = buf.slice(nl + 1);
      }
    });
    agent.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));

    try {
      const listening = await until('the agent to listen', deadline, async () => {
        if (agent.exitCode !== null) throw new Error(`the agent exited: ${stderr}`);
        return logLines.find((l) => l.msg === 'debug server listening');
      });
      const addr = String(listening.addr);
      await until('the first full observation cycle', deadline, async () => ((await fetch(`http://${addr}/readyz`)).ok ? true : undefined));

      say(`$ gpu-health-agent status --addr ${addr}\n`);
      say(formatStatus(await fetchState(addr)) + '\n');

      const line = formatDrill({ xid: 79, pci: PCI, text: 'demo: GPU has fallen off the bus' });
      say(`$ gpu-health-agent drill --xid 79 --pci ${PCI} --text 'demo: GPU has fallen off the bus'${useKmsg ? '' : ` --log-file ${kernLog}`}\n`);
      if (useKmsg) writeDrill('/dev/kmsg', line);
      else appendFileSync(kernLog, `${line}\n`);
      const wrote = Date.now();

      const after: DebugState = await until('the condition to go False', deadline, async () => {
        const s = await fetchState(addr);
        return s.condition.status === 'False' && s.gpus.some((g) => g.pci === PCI && g.health === 'fatal') ? s : undefined;
      });
      say(`  (the agent saw it within ${Date.now() - wrote} ms)\n\n`);
      // The status after the (dry-run) write, so its "last write" shows the False.
      const isFalseWrite = (l: Record<string, unknown>): boolean => l.msg === 'would write node condition' && (l.condition as { status?: string } | undefined)?.status === 'False';
      const cond = await until('the dry-run condition line', Math.min(deadline, Date.now() + 2000), async () => logLines.find(isFalseWrite)).catch(() => undefined);
      say(`$ gpu-health-agent status --addr ${addr}\n`);
      say(formatStatus(cond === undefined ? after : await fetchState(addr)) + '\n');
      if (cond !== undefined) say(`dry run: the agent would patch nodes/demo-node/status with\n  ${JSON.stringify(cond.condition)}\n\n`);
      say('Without --dry-run it writes that condition to the Node; Karpenter / EKS node repair act on it after it holds False for 10 minutes.\n');
      return 0;
    } catch (err) {
      process.stderr.write(`demo: ${errorText(err)}\n`);
      return 1;
    } finally {
      agent.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
      if (code !== 0 && code !== null) process.stderr.write(`demo: the agent exited with ${code}\n`);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
