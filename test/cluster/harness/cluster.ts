// A real, throwaway control plane on loopback: etcd and kube-apiserver with
// RBAC + Node authorization, service-account token signing, the default
// admission plugins (ValidatingAdmissionPolicy included) and an admin
// kubeconfig (client certificate, group system:masters). Its state lives in
// one temp directory described by state.json, so another process can attach
// to it (tests sharing one cluster) or stop it (`npm run cluster:down`).
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient } from '../../../agent/report/kube/client.ts';
import { kubeconfigConnection } from '../../../agent/report/kube/connection.ts';
import { findBinaries, K8S_VERSION, type Binaries } from './binaries.ts';
import { createPki } from './pki.ts';

export const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ProcessState {
  pid: number;
  args: string[];
  log: string;
}

export interface ClusterState {
  version: string;
  dir: string;
  server: string;
  kubeconfig: string;
  caCert: string;
  binaries: Binaries;
  etcd: ProcessState;
  apiserver: ProcessState;
}

/** A free TCP port on loopback (free when asked: the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function tail(path: string, lines = 25): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Ends one process we started: SIGTERM, then SIGKILL after `graceMs`. */
async function terminate(pid: number, graceMs = 5000): Promise<void> {
  if (!alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    while (alive(pid)) await sleep(20);
  }
}

function launch(bin: string, args: string[], log: string, detached: boolean): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached });
    if (child.pid === undefined) throw new Error(`cannot start ${bin}`);
    if (detached) child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: gpu-health-agent-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${ca}`,
    'users:',
    '- name: admin',
    '  user:',
    `    client-certificate: ${cert}`,
    `    client-key: ${key}`,
    'contexts:',
    '- name: admin',
    '  context:',
    '    cluster: gpu-health-agent-test',
    '    user: admin',
    '    namespace: default',
    'current-context: admin',
    '',
  ].join('\n');
}

export class Cluster {
  readonly state: ClusterState;
  /** Whether this process may stop it (it started it). */
  readonly owned: boolean;
  private readonly detached: boolean;
  private adminClient: KubeClient | undefined;

  private constructor(state: ClusterState, owned: boolean, detached: boolean) {
    this.state = state;
    this.owned = owned;
    this.detached = detached;
  }

  get stateFile(): string {
    return join(this.state.dir, 'state.json');
  }

  /** Starts etcd and kube-apiserver; `detached` lets them outlive this process (cluster:up). */
  static async start(opts: { detached?: boolean } = {}): Promise<Cluster> {
    const binaries = await findBinaries();
    const dir = await mkdtemp(join(tmpdir(), 'gpu-health-agent-cluster-'));
    const pkiDir = join(dir, 'pki');
    await mkdir(pkiDir);
    const [pki, etcdPort, peerPort, apiPort] = await Promise.all([createPki(pkiDir), freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;
    const etcdArgs = [
      '--name=gha', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=gha=${peerUrl}`,
      '--unsafe-no-fsync', '--log-level=warn',
    ];
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=${SA_ISSUER}`,
      `--service-account-key-file=${pki.saPublicKey}`,
      `--service-account-signing-key-file=${pki.saPrivateKey}`,
      '--authorization-mode=Node,RBAC',
      '--service-cluster-ip-range=10.96.0.0/24',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ];
    const kubeconfig = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfig, kubeconfigYaml(server, pki.caCert, pki.adminCert, pki.adminKey), { mode: 0o600 });
    const detached = opts.detached === true;
    const etcdLog = join(dir, 'etcd.log');
    const etcdPid = launch(binaries.etcd, etcdArgs, etcdLog, detached);
    const state: ClusterState = {
      version: K8S_VERSION,
      dir,
      server,
      kubeconfig,
      caCert: pki.caCert,
      binaries,
      etcd: { pid: etcdPid, args: etcdArgs, log: etcdLog },
      apiserver: { pid: 0, args: apiArgs, log: join(dir, 'apiserver.log') },
    };
    const cluster = new Cluster(state, true, detached);
    try {
      await cluster.startApiserver();
      await cluster.waitFor(async () => {
        await cluster.admin().request('GET', '/api/v1/namespaces/default');
        return true;
      }, 60_000, 'namespace default');
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Attaches to a cluster another process started; this process will not stop it. */
  static async attach(stateFile: string): Promise<Cluster> {
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as ClusterState;
    if (!alive(state.apiserver.pid) || !alive(state.etcd.pid)) throw new Error(`cluster in ${state.dir} is not running (state ${stateFile})`);
    return new Cluster(state, false, false);
  }

  /**
   * The cluster a test file uses: the one named by GPU_HEALTH_AGENT_CLUSTER (a
   * state file, e.g. from `npm run cluster:up`) or, by default, its own. Tests
   * that stop the API server pass `{ private: true }`.
   */
  static async forTests(opts: { private?: boolean } = {}): Promise<Cluster> {
    const shared = process.env.GPU_HEALTH_AGENT_CLUSTER;
    const cluster = shared !== undefined && shared !== '' && opts.private !== true ? await Cluster.attach(shared) : await Cluster.start();
    await cluster.loadAdmin();
    return cluster;
  }

  /** Stops the cluster if this process started it; otherwise just lets go of it. */
  async release(): Promise<void> {
    if (this.owned) await this.stop();
    this.adminClient?.close();
    this.adminClient = undefined;
  }

  /** Stops a cluster described by a state file (cluster:down). */
  static async stopFromState(stateFile: string): Promise<void> {
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as ClusterState;
    await new Cluster(state, true, true).stop();
  }

  admin(): KubeClient {
    if (this.adminClient === undefined) {
      throw new Error('admin client not loaded yet');
    }
    return this.adminClient;
  }

  /** Loads the admin client from the kubeconfig (what a user of the kubeconfig would do). */
  async loadAdmin(): Promise<KubeClient> {
    this.adminClient ??= new KubeClient(await kubeconfigConnection(this.state.kubeconfig));
    return this.adminClient;
  }

  async stopApiserver(): Promise<void> {
    this.mustOwn();
    await terminate(this.state.apiserver.pid);
  }

  /** (Re)starts kube-apiserver with the same flags and port; resolves once /readyz says ok. */
  async startApiserver(): Promise<void> {
    this.mustOwn();
    const { binaries, apiserver } = this.state;
    apiserver.pid = launch(binaries.kubeApiserver, apiserver.args, apiserver.log, this.detached);
    await writeFile(this.stateFile, JSON.stringify(this.state, null, 2));
    await this.loadAdmin();
    await this.waitFor(async () => {
      if (!alive(this.state.etcd.pid)) throw new Error(`etcd exited:\n${await tail(this.state.etcd.log)}`);
      if (!alive(apiserver.pid)) throw new Error(`kube-apiserver exited:\n${await tail(apiserver.log)}`);
      try {
        await this.admin().request('GET', '/readyz', { timeoutMs: 2000 });
        return true;
      } catch {
        return false;
      }
    }, 120_000, 'kube-apiserver /readyz');
  }

  async stop(): Promise<void> {
    this.mustOwn();
    this.adminClient?.close();
    this.adminClient = undefined;
    await terminate(this.state.apiserver.pid);
    await terminate(this.state.etcd.pid);
    await rm(this.state.dir, { recursive: true, force: true });
  }

  /** Runs the real kubectl as admin (or with the given kubeconfig). */
  kubectl(args: string[], opts: { input?: string; kubeconfig?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((res) => {
      const child = execFile(this.state.binaries.kubectl, [`--kubeconfig=${opts.kubeconfig ?? this.state.kubeconfig}`, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
        res({ code, stdout, stderr });
      });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  }

  async waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    for (;;) {
      try {
        if (await check()) return;
      } catch (err) {
        if ((err as Error).message.includes('exited')) throw err;
        lastErr = err;
      }
      if (Date.now() > deadline) throw new Error(`cluster harness: timed out after ${timeoutMs} ms waiting for ${what}${lastErr === undefined ? '' : `: ${(lastErr as Error).message}`}`);
      await sleep(100);
    }
  }

  private mustOwn(): void {
    if (!this.owned) throw new Error('this cluster belongs to another process (attached through its state file)');
  }
}
