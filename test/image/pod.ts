// Plays the kubelet for the chart's agent container: renders the chart with the
// test's values, checks and binds its host paths as the hostPath types demand,
// adds what the kubelet adds to every pod (the projected service-account token,
// the node's /etc/hosts, /etc/hostname and /etc/resolv.conf under hostNetwork,
// KUBERNETES_SERVICE_HOST/PORT), plus what the NVIDIA container toolkit would
// inject (a libnvidia-ml.so.1: here the stand-in), and starts the container.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '../cluster/harness/cluster.ts';
import { NAMESPACE, agentContainer, renderChart, type AgentContainer } from './pod-spec.ts';
import { Container, type Bind } from './container.ts';
import type { Image } from './image.ts';

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface PodOptions {
  image: Image;
  values: object;
  nodeName: string;
  scratch: string;
  cluster: Cluster;
  /** The agent's ServiceAccount token, bound to its Pod. */
  token: string;
  caCert: Buffer;
  /** Files the NVIDIA container toolkit (or DCGM's package, for the stand-in) would put in the container. */
  injected: Bind[];
}

export interface Pod {
  container: Container;
  plan: AgentContainer;
}

function hostPathBind(m: AgentContainer['mounts'][number]): Bind {
  const type = m.hostPathType ?? '';
  if (type === 'DirectoryOrCreate') mkdirSync(m.source, { recursive: true });
  if (!existsSync(m.source)) throw new Error(`hostPath ${m.source} (${m.name}, type ${type}) does not exist`);
  const st = statSync(m.source);
  const ok = { CharDevice: st.isCharacterDevice(), File: st.isFile(), Directory: st.isDirectory(), DirectoryOrCreate: st.isDirectory(), '': true }[type];
  if (ok !== true) throw new Error(`hostPath ${m.source} (${m.name}) is not of type ${type}`);
  return { path: m.path, source: m.source, readOnly: m.readOnly };
}

/** A kubelet-style projected service-account volume (token, ca.crt, namespace). */
function serviceAccountVolume(scratch: string, token: string, ca: Buffer): string {
  const dir = join(scratch, 'serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'namespace'), NAMESPACE);
  return dir;
}

export async function startPod(o: PodOptions): Promise<Pod> {
  const plan = agentContainer(await renderChart(o.values, o.scratch), o.nodeName, o.scratch);
  const binds: Bind[] = plan.mounts.map((m) => (m.kind === 'hostPath' ? hostPathBind(m) : { path: m.path, source: m.source, readOnly: m.readOnly }));
  binds.push({ path: SA_DIR, source: serviceAccountVolume(o.scratch, o.token, o.caCert), readOnly: true });
  for (const f of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf']) if (existsSync(f)) binds.push({ path: f, source: f, readOnly: true });
  binds.push(...o.injected);
  const api = new URL(o.cluster.state.server);
  const env = {
    ...o.image.config.env,
    HOSTNAME: hostname(),
    HOME: '/root',
    KUBERNETES_SERVICE_HOST: api.hostname,
    KUBERNETES_SERVICE_PORT: api.port,
    ...plan.env,
  };
  const runtimeLayer = join(o.scratch, 'runtime-layer');
  mkdirSync(runtimeLayer, { recursive: true });
  const container = await Container.start({
    layers: o.image.layers,
    runtimeLayer,
    binds,
    env,
    // Kubernetes `args` replace the image's CMD and keep its ENTRYPOINT.
    command: [...o.image.config.entrypoint, ...plan.args],
    workdir: o.image.config.workdir,
    scratch: o.scratch,
  });
  return { container, plan };
}
