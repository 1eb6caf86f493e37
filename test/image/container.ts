// A container without a container runtime: the image's layers stacked
// read-only with overlayfs in a new mount and PID namespace (the host's network,
// as the chart's hostNetwork pod has), /proc, /sys and a /dev like a privileged
// container's, the pod's volumes bound where the chart mounts them (read-only
// where it says so), and the entrypoint run chrooted into it with the image's
// and the pod's environment. `exec` enters the same namespaces and root, as
// `kubectl exec` does. Everything runs under strace (see write-audit.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { TRACED, fileWrites, type Write } from './write-audit.ts';

export interface Bind {
  /** Path in the container. */
  path: string;
  /** Path on the host. */
  source: string;
  readOnly: boolean;
}

export interface ContainerSpec {
  /** Lower layers, top first (the image's, bottom last). */
  layers: string[];
  /** An empty host directory that becomes the top layer: mount points for the binds. */
  runtimeLayer: string;
  binds: Bind[];
  env: Record<string, string>;
  command: string[];
  workdir: string;
  /** Host directory for the mount point and the strace logs. */
  scratch: string;
}

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `path` with its symbolic links followed inside the stacked layers (never out onto the host). */
export function resolveInLayers(layers: string[], path: string): string {
  let parts = path.split('/').filter((p) => p !== '');
  let done: string[] = [];
  for (let hops = 0; parts.length > 0; ) {
    const name = parts.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const here = [...done, name].join('/');
    const layer = layers.find((l) => exists(join(l, here)));
    const st = layer === undefined ? undefined : lstatSync(join(layer, here));
    if (st?.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`too many symbolic links under ${path}`);
      const target = readlinkSync(join(layer!, here));
      if (target.startsWith('/')) done = [];
      parts = [...target.split('/').filter((p) => p !== ''), ...parts];
      continue;
    }
    done.push(name);
  }
  return '/' + done.join('/');
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export class Container {
  readonly spec: ContainerSpec;
  readonly root: string;
  private readonly logs: string;
  private readonly proc: ChildProcess;
  private output = '';
  private execs = 0;
  get execCount(): number {
    return this.execs;
  }
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;
  /** Host PID of the entrypoint (in the container's PID namespace it is 2: strace is 1). */
  pid = 0;

  private constructor(spec: ContainerSpec) {
    this.spec = spec;
    this.root = join(spec.scratch, 'root');
    this.logs = join(spec.scratch, 'strace');
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.logs, { recursive: true });
    const script = this.setupScript();
    writeFileSync(join(spec.scratch, 'setup.sh'), script);
    this.proc = spawn('unshare', ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (c: Buffer): void => {
      this.output += c.toString('utf8');
    };
    this.proc.stdout?.on('data', collect);
    this.proc.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      this.proc.once('close', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  static async start(spec: ContainerSpec, timeoutMs = 30_000): Promise<Container> {
    for (const tool of ['unshare', 'strace', 'nsenter']) {
      if (!['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => existsSync(join(d, tool)))) {
        throw new Error(`${tool} is missing (util-linux, strace: apt-get install strace; .ci/run does)`);
      }
    }
    const c = new Container(spec);
    const deadline = Date.now() + timeoutMs;
    while (c.pid === 0) {
      if (c.exitCode !== undefined) throw new Error(`the container exited (${c.exitCode}) before its entrypoint ran:\n${c.output}`);
      if (Date.now() > deadline) throw new Error(`the entrypoint did not start within ${timeoutMs} ms:\n${c.output}`);
      // strace's own children (e.g. its seccomp self-test) never chroot; the entrypoint does.
      const pid = descendants(c.proc.pid!, 2).find(chrooted);
      if (pid !== undefined) c.pid = pid;
      else await new Promise((r) => setTimeout(r, 50));
    }
    return c;
  }

  private setupScript(): string {
    const { layers, runtimeLayer, binds, env, command, workdir } = this.spec;
    const all = [runtimeLayer, ...layers];
    const r = this.root;
    const lines = [
      'set -euo pipefail',
      `mount -t overlay overlay -o ro,lowerdir=${[runtimeLayer, ...layers].join(':')} ${q(r)}`,
      `mount -t proc -o nosuid,nodev,noexec proc ${q(r + '/proc')}`,
      // A privileged container gets the host's sysfs.
      `mount --rbind /sys ${q(r + '/sys')}`,
      `mount -t tmpfs -o nosuid,mode=0755,size=65536k tmpfs ${q(r + '/dev')}`,
      ...DEVICES.map((d) => `touch ${q(`${r}/dev/${d}`)} && mount --bind /dev/${d} ${q(`${r}/dev/${d}`)}`),
      `mkdir ${q(r + '/dev/shm')} ${q(r + '/dev/pts')} && mount -t tmpfs -o nosuid,nodev,noexec,size=65536k shm ${q(r + '/dev/shm')}`,
      `ln -s /proc/self/fd ${q(r + '/dev/fd')} && ln -s /proc/self/fd/0 ${q(r + '/dev/stdin')} && ln -s /proc/self/fd/1 ${q(r + '/dev/stdout')} && ln -s /proc/self/fd/2 ${q(r + '/dev/stderr')}`,
    ];
    for (const b of binds) {
      const isDir = lstatSync(b.source).isDirectory();
      // Mount points: in /dev (a tmpfs) made now; elsewhere in the runtime layer,
      // at the path symbolic links lead to (/var/run is a link to /run).
      const at = b.path.startsWith('/dev/') ? b.path : resolveInLayers(all, b.path);
      if (at.startsWith('/dev/')) lines.push(isDir ? `mkdir -p ${q(r + at)}` : `touch ${q(r + at)}`);
      else if (!exists(join(runtimeLayer, at)) && !layers.some((l) => exists(join(l, at)))) {
        mkdirSync(join(runtimeLayer, isDir ? at : posix.dirname(at)), { recursive: true });
        if (!isDir) writeFileSync(join(runtimeLayer, at), '');
      }
      lines.push(`mount --bind ${q(b.source)} ${q(r + at)}`);
      if (b.readOnly) lines.push(`mount -o remount,bind,ro ${q(r + at)}`);
    }
    const envArgs = Object.entries(env).map(([k, v]) => q(`${k}=${v}`));
    lines.push(`exec ${this.strace('agent').map(q).join(' ')} chroot ${q(r)} /usr/bin/env -i -C ${q(workdir)} ${envArgs.join(' ')} ${command.map(q).join(' ')}`);
    return lines.join('\n') + '\n';
  }

  private strace(name: string): string[] {
    return ['strace', '-ff', '-qq', '-y', '-s', '4096', '--seccomp-bpf', '-e', `trace=${TRACED}`, '-e', 'signal=none', '-o', join(this.logs, name), '--'];
  }

  /** What the entrypoint printed so far (stdout and stderr). */
  log(): string {
    return this.output;
  }

  /** Runs `cmd` in the container (its namespaces, root, working directory and environment), like kubectl exec. */
  exec(cmd: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Exec> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`exec ${cmd.join(' ')}: the container has exited (${this.exitCode})`));
    const n = ++this.execs;
    const env = Object.entries({ ...this.spec.env, ...opts.env }).map(([k, v]) => `${k}=${v}`);
    const nsenter = ['nsenter', `--target=${this.pid}`, '--mount', '--pid', '--root', '--wd', '--', '/usr/bin/env', '-i', ...env, ...cmd];
    const argv = [...this.strace(`exec-${n}-${posix.basename(cmd[0]!)}-${cmd[1] ?? ''}`.replace(/[^\w.-]/g, '_')), ...nsenter];
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** SIGTERM to the entrypoint, as the kubelet sends; resolves with its exit code. */
  async stop(graceMs = 30_000): Promise<number | null> {
    if (this.exitCode === undefined) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        // Already gone: the exit code says how it ended.
      }
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Every filesystem change the entrypoint and the exec'd commands attempted. */
  writes(): Write[] {
    return fileWrites(this.logs, this.root, this.spec.workdir);
  }
}

/** The processes `depth` generations below `pid` (unshare -> strace -> entrypoint). */
function descendants(pid: number, depth: number): number[] {
  let level = [pid];
  for (let i = 0; i < depth; i++) {
    level = level.flatMap((p) => {
      try {
        return readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(' ').filter((c) => c !== '').map(Number);
      } catch {
        return [];
      }
    });
  }
  return level;
}

/** Whether a process has left the host's root (chroot) for the container's. */
function chrooted(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/root`) !== '/';
  } catch {
    return false;
  }
}
