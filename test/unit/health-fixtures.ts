// Small builders for health tests: observations at a given time, sources.
import type { Evidence, GpuRef, Observation, SourceName } from '../../agent/model/evidence.ts';
import type { SourceStatus } from '../../agent/model/source-status.ts';
import type { Notice } from '../../agent/model/verdict.ts';
import { emptyHealth, observe, updateSource } from '../../agent/health/index.ts';
import type { HealthState } from '../../agent/health/index.ts';
import { loadDefaults, tableFromText } from '../../agent/rules/load.ts';
import type { RuleTable } from '../../agent/rules/types.ts';

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const S = 1000;
export const M = 60 * S;
export const H = 60 * M;

export const rules = loadDefaults();

export function override(yaml: string): RuleTable {
  const r = tableFromText(`apiVersion: gpu-health-agent/v1\n${yaml}`, 'test.yaml');
  if (!r.ok) throw new Error(r.error);
  return r.table;
}

export const GPU0: GpuRef = { pci: '0000:3b:00.0' };
export const GPU1: GpuRef = { pci: '0000:86:00.0' };

export function xid(code: number, gpu: GpuRef = GPU0, processName: string | null = null): Evidence {
  return { kind: 'xid', gpu, code, pid: processName === null ? null : 100, processName, text: `NVRM: Xid (PCI:${gpu.pci}): ${code}` };
}

export function recovery(code: number, gpu: GpuRef = GPU0): Evidence {
  const names = ['None', 'GPU Reset Required', 'Node Reboot Required', 'Drain P2P', 'Drain and Reset'];
  return { kind: 'recovery-action', gpu, from: null, to: { code, name: names[code] ?? 'Other' } };
}

export function dcgm(code: number, result: 'warn' | 'fail', gpu: GpuRef = GPU0, message = ''): Evidence {
  return { kind: 'dcgm-health', gpu, system: 'mem', result, code, message };
}

export function at(evidence: Evidence, time: number, source: SourceName = 'kmsg', drill = false): Observation {
  return { evidence, source, at: time, drill };
}

export function source(name: SourceName, state: SourceStatus['state'], time: number, detail = '', caughtUp = state === 'up'): SourceStatus {
  return { source: name, state, since: time, detail, caughtUp };
}

/** A state whose kernel-log source is up and caught up. */
export function watched(bootId = 'boot-1'): HealthState {
  return updateSource(emptyHealth(bootId), source('kmsg', 'up', T0), T0).state;
}

/** Feeds observations in order; returns the state and every notice. */
export function feed(state: HealthState, observations: Observation[], table: RuleTable = rules): { state: HealthState; notices: Notice[] } {
  const notices: Notice[] = [];
  for (const o of observations) {
    const r = observe(state, o, table, o.at);
    state = r.state;
    notices.push(...r.notices);
  }
  return { state, notices };
}

export function findings(state: HealthState, gpuId = `pci:${GPU0.pci}`) {
  return [...(state.gpus.get(gpuId)?.findings.values() ?? [])];
}
