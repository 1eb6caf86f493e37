// What the kubelet would run for the chart's agent container, from `helm
// template`: its arguments, environment, mounts (host paths, the rules
// ConfigMap, emptyDirs) and exec probes. Anything the chart adds that this
// file does not know how to provide fails the test instead of being left out.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { findBinaries } from '../cluster/harness/binaries.ts';
import { one, parseManifests, type K8sObject } from '../cluster/chart-checks.ts';
import { ROOT } from './layers.ts';

const run = promisify(execFile);
export const CHART = join(ROOT, 'deploy/helm/gpu-health-agent');
export const NAMESPACE = 'gpu-health-agent';

/** A path in the container and what is mounted there. */
export interface PlannedMount {
  name: string;
  path: string;
  source: string;
  kind: 'hostPath' | 'configMap' | 'emptyDir';
  /** hostPath only: the chart's type (CharDevice, File, DirectoryOrCreate, ...). */
  hostPathType?: string;
  readOnly: boolean;
}

export interface AgentContainer {
  args: string[];
  /** The pod's env, NODE_NAME resolved from the downward API. */
  env: Record<string, string>;
  mounts: PlannedMount[];
  probes: { startup: string[]; liveness: string[]; readiness: string[] };
  /** The rendered rules ConfigMap's data. */
  rules: Record<string, string>;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects are read field by field. */

export async function renderChart(values: object, scratch: string): Promise<K8sObject[]> {
  const { helm } = await findBinaries({ build: false });
  const file = join(scratch, 'values.yaml');
  writeFileSync(file, stringify(values));
  const { stdout } = await run(helm, ['template', 'gha', CHART, '--namespace', NAMESPACE, '-f', file], { maxBuffer: 16 << 20 });
  return parseManifests(stdout);
}

/**
 * The agent container of the rendered DaemonSet, with every volume made real
 * under `scratch`: a ConfigMap is written the way the kubelet writes one (a
 * timestamped directory behind the `..data` link), an emptyDir is a new
 * directory; host paths are used as they are (the test points them at its own
 * directories through the chart's hostPaths values).
 */
export function agentContainer(objects: K8sObject[], nodeName: string, scratch: string): AgentContainer {
  const pod = one(objects, 'DaemonSet').spec.template.spec;
  const container = (pod.containers as any[]).find((c) => c.name === 'agent');
  if (container === undefined) throw new Error('the DaemonSet has no agent container');
  const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data as Record<string, string>]));
  const volumes = new Map((pod.volumes as any[]).map((v) => [v.name as string, v]));
  let rules: Record<string, string> | undefined;

  const mounts = ((container.volumeMounts ?? []) as any[]).map((m): PlannedMount => {
    const v = volumes.get(m.name);
    if (v === undefined) throw new Error(`volumeMount ${m.name} names no volume`);
    if (m.subPath !== undefined) throw new Error(`volumeMount ${m.name}: subPath is not modelled`);
    const base = { name: m.name as string, path: m.mountPath as string, readOnly: m.readOnly === true };
    if (v.hostPath !== undefined) return { ...base, kind: 'hostPath', source: v.hostPath.path, hostPathType: v.hostPath.type ?? '' };
    if (v.emptyDir !== undefined) {
      const dir = join(scratch, `emptydir-${m.name}`);
      mkdirSync(dir, { recursive: true });
      return { ...base, kind: 'emptyDir', source: dir };
    }
    if (v.configMap !== undefined) {
      const data = configMaps.get(v.configMap.name);
      if (data === undefined) throw new Error(`volume ${m.name}: ConfigMap ${v.configMap.name} is not in the chart`);
      if (v.configMap.name.endsWith('-rules')) rules = data;
      // The kubelet always mounts ConfigMaps read-only.
      return { ...base, kind: 'configMap', source: writeAtomically(scratch, m.name, data), readOnly: true };
    }
    throw new Error(`volume ${m.name}: kind ${Object.keys(v).filter((k) => k !== 'name').join(',')} is not modelled by the image test`);
  });

  const env: Record<string, string> = {};
  for (const e of (container.env ?? []) as any[]) {
    if (typeof e.value === 'string') env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = nodeName;
    else throw new Error(`env ${e.name}: ${JSON.stringify(e.valueFrom)} is not modelled by the image test`);
  }
  const probe = (p: any): string[] => {
    if (!Array.isArray(p?.exec?.command)) throw new Error(`a probe that is not exec: ${JSON.stringify(p)}`);
    return p.exec.command as string[];
  };
  if (rules === undefined) throw new Error('the agent container mounts no rules ConfigMap');
  return {
    args: container.args as string[],
    env,
    mounts,
    probes: { startup: probe(container.startupProbe), liveness: probe(container.livenessProbe), readiness: probe(container.readinessProbe) },
    rules,
  };
}

/** A ConfigMap volume as the kubelet lays it out: `..<stamp>/KEY`, `..data -> ..<stamp>`, `KEY -> ..data/KEY`. */
function writeAtomically(scratch: string, name: string, data: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, `configmap-${name}-`));
  const stamp = `..${new Date().toISOString().replace(/[-:]/g, '_').replace(/\..*/, '')}.000000001`;
  mkdirSync(join(dir, stamp));
  for (const [key, text] of Object.entries(data)) {
    writeFileSync(join(dir, stamp, key), text);
    symlinkSync(`..data/${key}`, join(dir, key));
  }
  symlinkSync(stamp, join(dir, '..data'));
  return dir;
}
