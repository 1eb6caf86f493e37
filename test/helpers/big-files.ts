// Files that are valid for what reads them and as large as an attacker (or a
// mistake) makes them: the review's rule file padded with a flow list of small
// ints under an ignored `x-pad:` key, the costliest YAML per byte; and the
// largest state the agent itself can write.
import { writeFileSync } from 'node:fs';
import { DEFAULT_LIMITS, emptyHealth, observe, type HealthState } from '../../agent/health/index.ts';
import { loadDefaults } from '../../agent/rules/load.ts';

export const RULES_V1 = 'apiVersion: gpu-health-agent/v1\n';

/** A valid override (xid 43 -> `severity`) of about `bytes` bytes. */
export function paddedRuleFile(path: string, bytes: number, severity = 'info'): void {
  const head = `${RULES_V1}xid:\n  43: {severity: ${severity}}\nx-pad: [`;
  const items = Math.max(0, Math.floor((bytes - head.length - 3) / 2));
  writeFileSync(path, `${head}${'1,'.repeat(items)}0]\n`);
}

/**
 * The largest health state the health core's caps allow with the default table:
 * every GPU record taken, each with every finding slot taken, each finding with
 * a full-length detail and repeats from several processes.
 */
export function largestHealth(bootId: string, at: number): HealthState {
  const rules = loadDefaults();
  let state = emptyHealth(bootId);
  let t = at;
  const long = 'x'.repeat(400);
  for (let g = 0; g <= DEFAULT_LIMITS.maxGpus; g++) {
    const pci = `${(0x1000 + g).toString(16)}:3b:00.0`;
    for (let c = 0; c <= DEFAULT_LIMITS.maxFindingsPerGpu; c++) {
      for (let rep = 0; rep < 4; rep++) {
        t += 11_000; // past the same-occurrence window, so each one counts
        const evidence = { kind: 'xid' as const, gpu: { pci }, code: c < 150 ? c : 1000 + c, pid: 100 + rep, processName: `process-${rep}-abcdef`, text: `NVRM: Xid (PCI:${pci}): ${c}, ${long}` };
        state = observe(state, { evidence, source: 'kmsg', at: t, drill: false }, rules, t).state;
      }
    }
  }
  return state;
}

/** A state file that parses and validates, of about `bytes` bytes of GPU records: not one the agent wrote. */
export function tamperedStateFile(path: string, bootId: string, bytes: number): void {
  const gpu = (i: number): string => JSON.stringify({ id: `gpu-${i}`, pci: `0000:${(i % 256).toString(16).padStart(2, '0')}:00.0`, uuid: `GPU-${i}`, index: i, lastSeen: 0, latched: [], findings: [] });
  const records: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const r = gpu(i);
    records.push(r);
    size += r.length + 1;
  }
  const health = `{"kind":"gpu-health-agent/health","version":1,"bootId":${JSON.stringify(bootId)},"evicted":0,"ignored":0,"gpus":[${records.join(',')}],"nodeOccurrences":[]}`;
  writeFileSync(path, `{"version":1,"bootId":${JSON.stringify(bootId)},"savedAt":0,"health":${health},"cursor":null,"condition":null}`);
}
