// The real agent watching only a kernel log file of its own (no /dev/kmsg, no
// GPU backend), in dry-run mode, for tests that need an agent with findings but
// nothing shared with other tests: an Xid is a line appended to its file.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch, startAgentProcess, waitFor, type AgentProcess, type AgentProcessOptions } from './agent-process.ts';
import { syslogStamp } from './log-lines.ts';

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

/** Stamped now: a line stamped before this boot began would be read as an earlier boot's. */
export function xidLine(code: number, pci = LOG_PCI): string {
  return `${syslogStamp(Date.now())} it-node kernel: NVRM: Xid (PCI:${pci.slice(0, -2)}): ${code}, pid='<unknown>', name=<unknown>, test fault\n`;
}

export interface AgentPaths {
  dir: string;
  stateDir: string;
}

export interface LogFileAgentOptions extends Omit<AgentProcessOptions, 'wrap'> {
  /** Before the agent starts: prepare its state dir (modes, files). */
  prepare?: (paths: AgentPaths) => void;
  /** A command that execs the agent (AgentProcessOptions.wrap), or one built from its paths. */
  wrap?: string[] | ((paths: AgentPaths) => string[]);
  /** Wait for /readyz; default true. */
  ready?: boolean;
}

/** `extra`: more flags, or flags built from the agent's paths (after `prepare`). */
export async function startLogFileAgent(extra: string[] | ((paths: AgentPaths) => string[]) = [], opts: LogFileAgentOptions = {}): Promise<LogFileAgent> {
  const s = scratch();
  const log = join(s.dir, 'kern.log');
  writeFileSync(log, '');
  const paths = { dir: s.dir, stateDir: s.stateDir };
  opts.prepare?.(paths);
  const { wrap: wrapOpt, prepare: _prepare, ready: _ready, ...procOpts } = opts;
  const wrap = typeof wrapOpt === 'function' ? wrapOpt(paths) : wrapOpt;
  let a: AgentProcess;
  try {
    const flags = typeof extra === 'function' ? extra(paths) : extra;
    a = await startAgentProcess(['--kmsg', 'none', '--log-file', log, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', ...flags], { ...procOpts, ...(wrap === undefined ? {} : { wrap }) });
  } catch (err) {
    rmSync(s.dir, { recursive: true, force: true });
    throw err;
  }
  if (opts.ready !== false) await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 10_000);
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
export async function findingOn(a: AgentProcess, pci = LOG_PCI, timeoutMs = 10_000): Promise<string> {
  const { value } = await waitFor(`a finding on ${pci}`, async () => (await a.state()).gpus.find((g) => g.pci === pci && g.findings.length > 0)?.health, timeoutMs);
  return value;
}

/**
 * Runs the agent with its state dir bind-mounted read-only over itself, in a mount
 * namespace of its own (unshare, private propagation): the test and every other
 * process still see the directory writable, and the mount ends with the agent.
 */
export function readOnlyStateDir(p: AgentPaths): string[] {
  if (/['\\]/.test(p.stateDir)) throw new Error(`unexpected characters in ${p.stateDir}`);
  const d = `'${p.stateDir}'`;
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind ${d} ${d} && mount -o remount,bind,ro ${d} && exec "$0" "$@"`];
}
