// Which GPU record a reference means. The kernel names a GPU by PCI address,
// DCGM and NVML by index and UUID; `NVRM: GPU at PCI:..: GPU-..` lines and
// inventories link them. Records found by different parts of one identity are
// merged, never a GPU whose known parts disagree.
import type { GpuRef } from '../model/evidence.ts';
import { normalisePci } from '../model/pci.ts';
import type { Finding, GpuHealth, HealthState } from './types.ts';
import { NODE_ID } from './types.ts';

interface Ident {
  pci: string | null;
  uuid: string | null;
  index: number | null;
}

function identOf(ref: GpuRef): Ident {
  const uuid = ref.uuid === undefined || ref.uuid === null || ref.uuid.trim() === '' ? null : ref.uuid.trim();
  const index = ref.index === undefined || ref.index === null || !Number.isInteger(ref.index) ? null : ref.index;
  return { pci: normalisePci(ref.pci), uuid, index };
}

function agrees(gpu: GpuHealth, id: Ident): boolean {
  return (
    (gpu.pci === null || id.pci === null || gpu.pci === id.pci) &&
    (gpu.uuid === null || id.uuid === null || gpu.uuid === id.uuid) &&
    (gpu.index === null || id.index === null || gpu.index === id.index)
  );
}

function alias(state: HealthState, gpu: GpuHealth): void {
  if (gpu.pci !== null && !state.aliases.has(`pci:${gpu.pci}`)) state.aliases.set(`pci:${gpu.pci}`, gpu.id);
  if (gpu.uuid !== null && !state.aliases.has(`uuid:${gpu.uuid}`)) state.aliases.set(`uuid:${gpu.uuid}`, gpu.id);
  if (gpu.index !== null && !state.aliases.has(`index:${gpu.index}`)) state.aliases.set(`index:${gpu.index}`, gpu.id);
}

function unalias(state: HealthState, id: string): void {
  for (const [k, v] of state.aliases) if (v === id) state.aliases.delete(k);
}

/** Fills the parts of the GPU's identity it lacked; true when something was new. */
function fill(gpu: GpuHealth, id: Ident): boolean {
  let changed = false;
  if (gpu.pci === null && id.pci !== null) [gpu.pci, changed] = [id.pci, true];
  if (gpu.uuid === null && id.uuid !== null) [gpu.uuid, changed] = [id.uuid, true];
  if (gpu.index === null && id.index !== null) [gpu.index, changed] = [id.index, true];
  return changed;
}

function mergeFinding(a: Finding, b: Finding): Finding {
  const [keep, other] = a.count >= b.count ? [a, b] : [b, a];
  return {
    ...keep,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    escalated: a.escalated || b.escalated,
    sources: [...new Set([...keep.sources, ...other.sources])],
  };
}

/** Moves `from` into `into`: one GPU seen under two names. */
function merge(state: HealthState, into: GpuHealth, from: GpuHealth): void {
  fill(into, from);
  for (const [fid, f] of from.findings) {
    const mine = into.findings.get(fid);
    into.findings.set(fid, mine === undefined ? f : mergeFinding(mine, f));
  }
  into.findings = new Map([...into.findings].sort((x, y) => x[1].lastSeen - y[1].lastSeen));
  for (const [fid, sig] of from.latched) into.latched.set(fid, sig);
  into.lastSeen = Math.max(into.lastSeen, from.lastSeen);
  state.gpus.delete(from.id);
  unalias(state, from.id);
  alias(state, into);
}

function newGpu(id: string, ident: Ident, now: number): GpuHealth {
  return { id, pci: ident.pci, uuid: ident.uuid, index: ident.index, findings: new Map(), latched: new Map(), lastSeen: now };
}

export function nodeRecord(state: HealthState, now: number): GpuHealth {
  let node = state.gpus.get(NODE_ID);
  if (node === undefined) {
    node = newGpu(NODE_ID, { pci: null, uuid: null, index: null }, now);
    state.gpus.set(NODE_ID, node);
  }
  return node;
}

function hasFatal(gpu: GpuHealth, isFatal: (f: Finding) => boolean): boolean {
  for (const f of gpu.findings.values()) if (isFatal(f)) return true;
  return false;
}

/**
 * Makes room for one more GPU record: drops the least recently seen GPU without a
 * fatal finding. False when every GPU holds fatal evidence (the new one is dropped).
 */
function roomForGpu(state: HealthState, isFatal: (f: Finding) => boolean): boolean {
  let count = 0;
  let victim: GpuHealth | null = null;
  for (const gpu of state.gpus.values()) {
    if (gpu.id === NODE_ID) continue;
    count += 1;
    if (!hasFatal(gpu, isFatal) && (victim === null || gpu.lastSeen < victim.lastSeen)) victim = gpu;
  }
  if (count < state.limits.maxGpus) return true;
  if (victim === null) {
    state.evicted += 1;
    return false;
  }
  state.gpus.delete(victim.id);
  unalias(state, victim.id);
  state.evicted += Math.max(1, victim.findings.size);
  return true;
}

/**
 * The record for `ref`, merging records that turn out to be one GPU. With `create`
 * false, null when none matches. A ref with no identity at all is the node record.
 * Null too when the GPU cap is reached and every GPU holds fatal evidence.
 */
export function resolveGpu(
  state: HealthState,
  ref: GpuRef,
  now: number,
  create: boolean,
  isFatal: (f: Finding) => boolean,
): GpuHealth | null {
  const id = identOf(ref);
  if (id.pci === null && id.uuid === null && id.index === null) return create ? nodeRecord(state, now) : (state.gpus.get(NODE_ID) ?? null);
  const found = (key: string | null): GpuHealth | null => {
    if (key === null) return null;
    const gid = state.aliases.get(key);
    return gid === undefined ? null : (state.gpus.get(gid) ?? null);
  };
  const byPci = found(id.pci === null ? null : `pci:${id.pci}`);
  const byUuid = found(id.uuid === null ? null : `uuid:${id.uuid}`);
  const byIndex = found(id.index === null ? null : `index:${id.index}`);

  let gpu: GpuHealth | null = null;
  for (const candidate of [byPci, byUuid, byIndex]) {
    if (candidate === null || !agrees(candidate, id)) continue;
    if (gpu === null) gpu = candidate;
    else if (candidate !== gpu && agrees(gpu, candidate)) merge(state, gpu, candidate);
  }
  if (gpu === null) {
    if (!create) return null;
    if (!roomForGpu(state, isFatal)) return null;
    const gid = id.pci !== null ? `pci:${id.pci}` : id.uuid !== null ? `uuid:${id.uuid}` : `index:${id.index}`;
    gpu = newGpu(state.gpus.has(gid) ? `${gid}#${now}` : gid, id, now);
    state.gpus.set(gpu.id, gpu);
    alias(state, gpu);
  } else if (fill(gpu, id)) {
    alias(state, gpu);
  }
  return gpu;
}

/** The GPU an operator names: PCI address, UUID, index, or record id. */
export function findGpu(state: HealthState, name: string): GpuHealth | null {
  const s = name.trim();
  if (state.gpus.has(s)) return state.gpus.get(s) ?? null;
  const keys = [`uuid:${s}`, `pci:${normalisePci(s)}`];
  if (/^\d+$/.test(s)) keys.unshift(`index:${Number(s)}`);
  for (const k of keys) {
    const gid = state.aliases.get(k);
    if (gid !== undefined) return state.gpus.get(gid) ?? null;
  }
  return null;
}
