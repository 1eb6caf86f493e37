// Finds the real Kubernetes binaries the cluster tests run: explicit paths
// (TEST_ASSET_* or KUBEBUILDER_ASSETS, as envtest names them), then PATH when
// the version is the one we test, then our cache, then a build from the Go
// modules (build-binaries.sh). Anything missing fails loudly: never a skip.
import { execFile, spawn } from 'node:child_process';
import { access, constants, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Kubernetes release the harness runs; the minor (1.34) is what the README names. */
export const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.34.4';
export const K8S_MINOR = K8S_VERSION.replace(/^v(\d+\.\d+).*$/, '$1');

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  helm: string;
}

type Tool = keyof Binaries;

const FILE: Record<Tool, string> = { kubeApiserver: 'kube-apiserver', etcd: 'etcd', kubectl: 'kubectl', helm: 'helm' };
const ENV: Record<Tool, string> = { kubeApiserver: 'TEST_ASSET_KUBE_APISERVER', etcd: 'TEST_ASSET_ETCD', kubectl: 'TEST_ASSET_KUBECTL', helm: 'TEST_ASSET_HELM' };

export function cacheDir(): string {
  const base = process.env.GPU_HEALTH_AGENT_CACHE ?? join(homedir(), '.cache', 'gpu-health-agent');
  return join(base, 'bin', `k8s-${K8S_VERSION}`);
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether a binary found on PATH is the version we test (a stray kubectl may be anything). */
async function rightVersion(tool: Tool, path: string): Promise<boolean> {
  try {
    switch (tool) {
      case 'kubeApiserver': {
        const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
        return stdout.includes(`v${K8S_MINOR}.`);
      }
      case 'kubectl': {
        const { stdout } = await run(path, ['version', '--client', '-o', 'json'], { timeout: 10_000 });
        const v = (JSON.parse(stdout) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion ?? '';
        return v.startsWith(`v${K8S_MINOR}.`);
      }
      case 'etcd': {
        const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
        return /etcd Version: 3\.[56]\./.test(stdout);
      }
      case 'helm': {
        const { stdout } = await run(path, ['version', '--short'], { timeout: 10_000 });
        return /^v3\./.test(stdout.trim());
      }
    }
  } catch {
    return false;
  }
}

async function onPath(tool: Tool): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, FILE[tool]);
    if ((await executable(p)) && (await rightVersion(tool, p))) return p;
  }
  return undefined;
}

async function locate(tool: Tool): Promise<string | undefined> {
  const explicit = process.env[ENV[tool]];
  if (explicit !== undefined && explicit !== '') {
    if (!(await executable(explicit))) throw new Error(`${ENV[tool]}=${explicit} is not an executable file`);
    return explicit;
  }
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets !== undefined && assets !== '' && (await executable(join(assets, FILE[tool])))) return join(assets, FILE[tool]);
  const fromPath = await onPath(tool);
  if (fromPath !== undefined) return fromPath;
  // The cache is ours and versioned by directory: trusted without running it.
  const cached = join(cacheDir(), FILE[tool]);
  return (await executable(cached)) ? cached : undefined;
}

const buildScript = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'build-binaries.sh');

async function build(): Promise<void> {
  await mkdir(dirname(cacheDir()), { recursive: true });
  process.stderr.write(`cluster harness: building Kubernetes ${K8S_VERSION} binaries into ${cacheDir()} (first run only; minutes)\n`);
  await new Promise<void>((res, rej) => {
    // flock: two test processes that both find a binary missing build it once.
    const lock = join(dirname(cacheDir()), '.build.lock');
    const child = spawn('flock', [lock, 'bash', buildScript], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, K8S_VERSION } });
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res() : rej(new Error(`${buildScript} exited with ${code}`))));
  });
}

/** All four binaries, building them if needed; throws (fails the suite) if that is impossible. */
export async function findBinaries(opts: { build?: boolean } = {}): Promise<Binaries> {
  const tools: Tool[] = ['kubeApiserver', 'etcd', 'kubectl', 'helm'];
  let found = await Promise.all(tools.map(locate));
  if (found.some((p) => p === undefined) && opts.build !== false) {
    await build();
    found = await Promise.all(tools.map(locate));
  }
  const missing = tools.filter((_, i) => found[i] === undefined).map((t) => FILE[t]);
  if (missing.length > 0) {
    throw new Error(`cluster harness: missing ${missing.join(', ')} (Kubernetes ${K8S_VERSION}); set KUBEBUILDER_ASSETS or TEST_ASSET_*, or run test/cluster/build-binaries.sh`);
  }
  const [kubeApiserver, etcd, kubectl, helm] = found as string[];
  return { kubeApiserver: kubeApiserver!, etcd: etcd!, kubectl: kubectl!, helm: helm! };
}
