// node-problem-detector as the peer bench runs it: the binary built from its Go
// module (build-npd.sh, cached), its kmsg system-log monitor with the Xid rule
// users write (one permanent condition; NPD reports True for a problem), and
// its Kubernetes exporter pointed at the harness's API server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sleep } from '../lib/proc.ts';
import { freePort } from '../../test/cluster/harness/cluster.ts';

export const NPD_VERSION = 'v1.34.0';
export const NPD_CONDITION = 'NvidiaXidProblem';
/** The rule as users write it: NPD anchors the end of the pattern, hence the trailing `.*`. */
export const NPD_PATTERN = 'NVRM: Xid.*: (79|48),.*';

/** Builds (first run only, minutes) and returns the binary's path. */
export function npdBinary(): string {
  const script = resolve(import.meta.dirname, 'build-npd.sh');
  const r = spawnSync('flock', [join(process.env.GPU_HEALTH_AGENT_CACHE ?? join(process.env.HOME ?? '/root', '.cache', 'gpu-health-agent'), 'bin', '.npd-build.lock'), 'bash', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NPD_VERSION },
  });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}`);
  return r.stdout.trim().split('\n').at(-1) as string;
}

/** The kmsg monitor config: lookback 0 (nothing from before the start), the default buffer of 10 lines. */
export function writeNpdConfig(dir: string): string {
  const path = join(dir, 'xid-monitor.json');
  const config = {
    plugin: 'kmsg',
    logPath: '/dev/kmsg',
    lookback: '0',
    bufferSize: 10,
    source: 'nvidia-xid-monitor',
    conditions: [{ type: NPD_CONDITION, reason: 'NoFatalXid', message: 'no fatal NVIDIA Xid' }],
    rules: [{ type: 'permanent', condition: NPD_CONDITION, reason: 'NvidiaFatalXid', pattern: NPD_PATTERN }],
  };
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

export interface NpdProcess {
  proc: ChildProcess;
  pid: number;
  logFile: string;
  /** GET on its own server (health on --port). */
  healthz(): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts NPD for `nodeName`; its own server and Prometheus endpoint on free loopback ports, as deployed (both on by default). */
export async function startNpd(bin: string, opts: { config: string; nodeName: string; server: string; kubeconfig: string; logFile: string }): Promise<NpdProcess> {
  const [port, promPort] = [await freePort(), await freePort()];
  const out = openSync(opts.logFile, 'w');
  const proc = spawn(bin, [
    `--config.system-log-monitor=${opts.config}`,
    `--apiserver-override=${opts.server}?inClusterConfig=false&auth=${opts.kubeconfig}`,
    `--hostname-override=${opts.nodeName}`,
    '--address=127.0.0.1', `--port=${port}`,
    '--prometheus-address=127.0.0.1', `--prometheus-port=${promPort}`,
  ], { stdio: ['ignore', out, out] });
  closeSync(out);
  let exited = false;
  const done = new Promise<void>((r) => proc.once('exit', () => { exited = true; r(); }));
  const healthz = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return `${res.status} ${(await res.text()).trim()}`;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`node-problem-detector exited at start:\n${readFileSync(opts.logFile, 'utf8').slice(-2000)}`);
    try {
      await healthz();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`node-problem-detector did not serve /healthz:\n${readFileSync(opts.logFile, 'utf8').slice(-2000)}`);
      await sleep(50);
    }
  }
  return {
    proc,
    pid: proc.pid as number,
    logFile: opts.logFile,
    healthz,
    log: () => readFileSync(opts.logFile, 'utf8'),
    async stop() {
      if (exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}

/** Whether NPD's kmsg watcher has said it stopped (go-kmsg-parser ends on a read error such as EPIPE). */
export function npdWatcherStopped(log: string): boolean {
  return /error reading \/dev\/kmsg|Kmsg channel closed/.test(log);
}
