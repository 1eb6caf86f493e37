// The real agent watching only a kernel log file of its own (no /dev/kmsg, no
// GPU backend), in dry-run mode, for tests that need an agent with findings but
// nothing shared with other tests: an Xid is a line appended to its file.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch, startAgentProcess, waitFor, type AgentProcess, type AgentProcessOptions } from './agent-process.ts';

export interface LogFileAgent {
  a: AgentProcess;
  dir: string;
  stateDir: string;
  log: string;
  /** Appends the driver's line for Xid `code` on `pci`. */
  xid(code: number, pci?: string): void;
  /** Kills the agent and removes its files. */
  dispose(): Promise<void>;
}

export const LOG_PCI = '0000:3b:00.0';

export function xidLine(code: number, pci = LOG_PCI): string {
  return `Dec  1 08:44:00 it-node kernel: NVRM: Xid (PCI:${pci.slice(0, -2)}): ${code}, pid='<unknown>', name=<unknown>, test fault\n`;
}

export interface LogFileAgentOptions extends AgentProcessOptions {
  /** Before the agent starts: prepare its state dir (modes, mounts' sources, files). */
  prepare?: (paths: { dir: string; stateDir: string }) => void;
  /** Wait for /readyz; default true. */
  ready?: boolean;
}

export async function startLogFileAgent(extra: string[] = [], opts: LogFileAgentOptions = {}): Promise<LogFileAgent> {
  const s = scratch();
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  opts.prepare?.({ dir: s.dir, stateDir: s.stateDir });
  let a: AgentProcess;
  try {
    a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', ...extra], opts);
  } catch (err) {
    rmSync(s.dir, { recursive: true, force: true });
    throw err;
  }
  if (opts.ready !== false) await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
  return {
    a,
    dir: s.dir,
    stateDir: s.stateDir,
    log,
    xid: (code, pci) => appendFileSync(log, xidLine(code, pci)),
    async dispose() {
      await a.kill();
      rmSync(s.dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the agent holds a finding on `pci`; returns its health. */
export async function findingOn(a: AgentProcess, pci = LOG_PCI, timeoutMs = 4000): Promise<string> {
  const { value } = await waitFor(`a finding on ${pci}`, async () => (await a.state()).gpus.find((g) => g.pci === pci && g.findings.length > 0)?.health, timeoutMs);
  return value;
}
