// Recognises the NVIDIA driver's kernel records in one message (prefix already
// stripped). Almost no kernel line is NVIDIA's, so two substring checks run
// before anything else; after that each form is read with indexOf and short,
// anchored, bounded patterns (no backtracking blow-up on hostile input).
import type { AerSeverity, RecoveryAction } from '../model/evidence.ts';
import { normalisePci } from '../model/pci.ts';

interface Base {
  /** Normalised `dddd:bb:dd.f`, or null when the record had none or it was redacted. */
  pci: string | null;
}

export interface XidRecord extends Base {
  kind: 'xid';
  code: number;
  /** The address as printed inside the parentheses (may be redacted or carry MIG ids). */
  address: string | null;
  gpuInstance: number | null;
  computeInstance: number | null;
  pid: number | null;
  processName: string | null;
  /** Free text after code / pid / name. */
  text: string;
}

export interface Xid154Record extends Base {
  kind: 'xid154';
  code: 154;
  address: string | null;
  gpuInstance: number | null;
  computeInstance: number | null;
  from: RecoveryAction | null;
  to: RecoveryAction;
  text: string;
}

export interface SxidRecord extends Base {
  kind: 'sxid';
  code: number;
  switchIndex: number | null;
  /** null for the detail lines (`Data {...}`, `Severity ...`) that follow a header line. */
  fatal: boolean | null;
  link: number | null;
  /** `header` carries Fatal/Non-fatal; `detail` lines repeat the code with register data. */
  part: 'header' | 'detail';
  text: string;
}

export interface FallenOffBusRecord extends Base {
  kind: 'fallen-off-bus';
  code: null;
  /** PCI vendor:device id when printed (`10de:26b5`). */
  pciId: string | null;
  text: string;
  /** How many input lines the message spanned (1 when it came in one record). */
  spanLines: number;
}

export interface GpuIdentityRecord extends Base {
  kind: 'gpu-identity';
  code: null;
  uuid: string;
}

/**
 * The PCI core's AER report about a device (dev_printk: `<driver> <bdf>: AER: ...`):
 * `header` is the device's own `PCIe Bus Error: severity=...` line; `source` a
 * port's `... error message received from <bdf>` line, naming the reporting device.
 */
export interface PcieAerRecord extends Base {
  kind: 'pcie-aer';
  code: null;
  /** The driver (or bus) name dev_printk put first: `nvidia`, `pcieport`, `pci`. */
  driver: string;
  severity: AerSeverity | null;
  part: 'header' | 'source';
  /** For `source` lines: the device the error came from. */
  from: string | null;
  text: string;
}

/** The driver could not initialise a GPU: `NVRM: GPU <bdf>: RmInitAdapter failed! (...)` and its kin. */
export interface GpuInitFailedRecord extends Base {
  kind: 'gpu-init-failed';
  code: null;
  text: string;
}

export type NvidiaRecord = XidRecord | Xid154Record | SxidRecord | FallenOffBusRecord | GpuIdentityRecord | PcieAerRecord | GpuInitFailedRecord;
export type NvidiaRecordKind = NvidiaRecord['kind'];

const MAX_ADDR = 96;
const RECOVERY =
  /GPU recovery action changed from (0x[0-9a-fA-F]{1,8}) \(([^)]{1,64})\) to (0x[0-9a-fA-F]{1,8}) \(([^)]{1,64})\)/;
const RECOVERY_TO_ONLY = /GPU recovery action changed to (0x[0-9a-fA-F]{1,8}) \(([^)]{1,64})\)/;
const SWITCH = /nvidia-nvswitch(\d{1,4}): ?$/;
const SXID_HEADER = /^(Fatal|Non-fatal|Nonfatal|Non fatal)\b,? ?(?:Link (-?\d{1,4}))?/;
const IDENTITY = /NVRM: GPU at (?:PCI:)?([0-9a-fA-F]{1,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?): (GPU-[0-9a-fA-F-]{8,64})/;
const FALLEN_PCI =
  /GPU (?:at )?(?:PCI:)?([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?)\b/;
const PCI_ID = /PCI ID: ([0-9a-fA-F]{4}:[0-9a-fA-F]{4})/;
const NVIDIA_GPU_START = 'NVRM: The NVIDIA GPU ';

/** Cheap pre-filter: could this message be one of NVIDIA's records (or the PCI core's AER report on a GPU) at all? */
export function mayBeNvidia(message: string): boolean {
  return message.includes('NVRM') || message.includes('SXid') || message.includes('AER: ') || message.includes('PCIe Bus Error');
}

const HEXBDF = '[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]';
/** Old kernels print Corrected / Uncorrected, 6.x Correctable / Uncorrectable. */
const AER_SEVERITY = /(?:Uncorrect(?:ed|able) \((Non-Fatal|Fatal)\)|(Correct(?:ed|able)))/;
/** dev_printk's `<driver> <bdf>: ` before the report; `AER: ` is there on some kernels only (dev_fmt vs dev_printk). */
const AER_HEADER = new RegExp(`(?:(\\S{1,32}) (${HEXBDF}): (?:AER: )?)?PCIe Bus Error: severity=`);
const AER_FROM = new RegExp(`(?:(\\S{1,32}) (${HEXBDF}): AER: )?\\S{0,12} ?(?:Correct|Uncorrect)\\S{0,12}(?: \\((?:Non-)?Fatal\\))? error (?:received: |message received from )(${HEXBDF})`);
const INIT_FAILED = /NVRM: (?:GPU (?:at )?(?:PCI:)?([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}(?:\.[0-7])?): )?(RmInitAdapter failed!|rm_init_adapter failed)/;

function aerSeverity(text: string): AerSeverity | null {
  const m = AER_SEVERITY.exec(text);
  if (m === null) return null;
  return m[1] === 'Fatal' ? 'fatal' : m[1] === 'Non-Fatal' ? 'nonfatal' : 'correctable';
}

/** An AER error report (a device's bus-error line or a port's received-from line); null for the PCI core's other AER lines. */
function recogniseAer(msg: string): PcieAerRecord | null {
  const header = AER_HEADER.exec(msg);
  const from = header === null ? AER_FROM.exec(msg) : null;
  const m = header ?? from;
  if (m === null) return null;
  // The report's text starts after the device prefix (or where the report starts, without one).
  const text = m[1] === undefined ? msg.slice(m.index) : msg.slice(m.index + m[1].length + 1 + (m[2] ?? '').length + 2).replace(/^AER: /, '');
  return {
    kind: 'pcie-aer', code: null, pci: m[2] === undefined ? null : normalisePci(m[2]), driver: m[1] ?? '',
    severity: aerSeverity(text), part: header === null ? 'source' : 'header',
    from: from === null ? null : normalisePci(from[3] ?? ''), text: text.trim(),
  };
}

function readDigits(s: string, at: number, max: number): [number, number] | null {
  let i = at;
  let n = 0;
  while (i < s.length && i - at < max) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
    i++;
  }
  return i === at ? null : [n, i];
}

function skipSpaces(s: string, at: number): number {
  let i = at;
  while (s.charCodeAt(i) === 0x20) i++;
  return i;
}

interface Address {
  pci: string | null;
  address: string | null;
  gpuInstance: number | null;
  computeInstance: number | null;
}

function readAddress(raw: string | null): Address {
  const out: Address = { pci: null, address: raw, gpuInstance: null, computeInstance: null };
  if (raw === null) return out;
  for (const tok of raw.split(/\s+/)) {
    if (tok.startsWith('GPU-I:')) out.gpuInstance = readDigits(tok, 6, 4)?.[0] ?? null;
    else if (tok.startsWith('GPU-CI:')) out.computeInstance = readDigits(tok, 7, 4)?.[0] ?? null;
    else if (out.pci === null && tok.length > 0) out.pci = normalisePci(tok);
  }
  return out;
}

/** After the code: `pid=..., name=..., text`. */
function readPidName(rest: string): { pid: number | null; processName: string | null; text: string } {
  let s = rest;
  let pid: number | null = null;
  let processName: string | null = null;
  if (s.startsWith('pid=')) {
    const comma = s.indexOf(',');
    const tok = (comma === -1 ? s.slice(4) : s.slice(4, comma)).replace(/'/g, '');
    if (/^\d{1,10}$/.test(tok)) pid = Number(tok);
    s = comma === -1 ? '' : s.slice(skipSpaces(s, comma + 1));
  }
  if (s.startsWith('name=')) {
    const comma = s.indexOf(', ');
    const tok = comma === -1 ? s.slice(5) : s.slice(5, comma);
    processName = tok === '<unknown>' || tok === "'<unknown>'" || tok === '' ? null : tok;
    s = comma === -1 ? '' : s.slice(comma + 2);
  }
  return { pid, processName, text: s.trim() };
}

function action(hex: string, name: string): RecoveryAction {
  return { code: parseInt(hex, 16), name: name.trim() };
}

function recogniseXid(msg: string, at: number): XidRecord | Xid154Record | null {
  let i = skipSpaces(msg, at + 'NVRM: Xid'.length);
  let addrRaw: string | null = null;
  if (msg.charCodeAt(i) === 0x28 /* ( */) {
    const close = msg.indexOf(')', i);
    if (close === -1 || close - i > MAX_ADDR) return null;
    addrRaw = msg.slice(i + 1, close).trim();
    if (addrRaw.length === 0) addrRaw = null;
    i = close + 1;
  }
  if (msg.charCodeAt(i) === 0x3a /* : */) i++;
  i = skipSpaces(msg, i);
  const num = readDigits(msg, i, 6);
  if (num === null) return null;
  const [code, end] = num;
  let j = end;
  if (j < msg.length && msg.charCodeAt(j) !== 0x2c /* , */ && msg.charCodeAt(j) !== 0x20) return null;
  if (msg.charCodeAt(j) === 0x2c) j++;
  const rest = msg.slice(skipSpaces(msg, j)).trimEnd();
  const addr = readAddress(addrRaw);
  if (code === 154) {
    const m = RECOVERY.exec(rest);
    if (m !== null) {
      return {
        kind: 'xid154', code: 154, ...addr,
        from: action(m[1] ?? '0', m[2] ?? ''), to: action(m[3] ?? '0', m[4] ?? ''), text: rest,
      };
    }
    const t = RECOVERY_TO_ONLY.exec(rest);
    if (t !== null) {
      return { kind: 'xid154', code: 154, ...addr, from: null, to: action(t[1] ?? '0', t[2] ?? ''), text: rest };
    }
  }
  return { kind: 'xid', code, ...addr, ...readPidName(rest) };
}

function recogniseSxid(msg: string, at: number): SxidRecord | null {
  let i = skipSpaces(msg, at + 4);
  let pci: string | null = null;
  if (msg.charCodeAt(i) === 0x28) {
    const close = msg.indexOf(')', i);
    if (close === -1 || close - i > MAX_ADDR) return null;
    pci = readAddress(msg.slice(i + 1, close).trim() || null).pci;
    i = close + 1;
  }
  if (msg.charCodeAt(i) !== 0x3a) return null;
  i = skipSpaces(msg, i + 1);
  const num = readDigits(msg, i, 6);
  if (num === null) return null;
  const [code, end] = num;
  let j = end;
  if (msg.charCodeAt(j) === 0x2c) j++;
  const rest = msg.slice(skipSpaces(msg, j)).trimEnd();
  const sw = SWITCH.exec(msg.slice(Math.max(0, at - 24), at));
  const switchIndex = sw === null ? null : Number(sw[1]);
  const h = SXID_HEADER.exec(rest);
  if (h !== null) {
    return {
      kind: 'sxid', code, pci, switchIndex, fatal: h[1] === 'Fatal',
      link: h[2] === undefined ? null : Number(h[2]), part: 'header', text: rest,
    };
  }
  return { kind: 'sxid', code, pci, switchIndex, fatal: null, link: null, part: 'detail', text: rest };
}

/** Strip the `NVRM: ` every line of a driver message starts with, for a readable joined text. */
function plain(line: string): string {
  const t = line.trim();
  const i = t.indexOf('NVRM: ');
  return i === -1 ? t : t.slice(i + 6).trim();
}

/**
 * Recognise one line (or one whole multi-line record). Returns null for
 * everything that is not one of the record kinds. Never throws.
 */
export function recogniseLine(msg: string): NvidiaRecord | null {
  if (!mayBeNvidia(msg)) return null;
  if (msg.includes('AER: ') || msg.includes('PCIe Bus Error')) {
    const aer = recogniseAer(msg);
    if (aer !== null) return aer;
  }
  const xid = msg.indexOf('NVRM: Xid');
  if (xid !== -1) return recogniseXid(msg, xid);
  const sxid = msg.indexOf('SXid');
  if (sxid !== -1) return recogniseSxid(msg, sxid);
  const nvrm = msg.indexOf('NVRM');
  if (nvrm === -1) return null;
  if (msg.includes('fallen off the bus')) {
    const p = FALLEN_PCI.exec(msg);
    const id = PCI_ID.exec(msg);
    return {
      kind: 'fallen-off-bus', code: null, pci: p === null ? null : normalisePci(p[1] ?? ''),
      pciId: id === null ? null : (id[1] ?? '').toLowerCase(),
      text: msg.split('\n').map(plain).join(' '), spanLines: 1,
    };
  }
  if (msg.includes('NVRM: GPU at ')) {
    const m = IDENTITY.exec(msg);
    if (m !== null) {
      const pci = normalisePci(m[1] ?? '');
      if (pci !== null) return { kind: 'gpu-identity', code: null, pci, uuid: (m[2] ?? '').toLowerCase().replace(/^gpu-/, 'GPU-') };
    }
  }
  const init = INIT_FAILED.exec(msg);
  if (init !== null) {
    return { kind: 'gpu-init-failed', code: null, pci: init[1] === undefined ? null : normalisePci(init[1]), text: plain(msg.slice(init.index)) };
  }
  return null;
}

interface Pending {
  pci: string | null;
  pciId: string | null;
  parts: string[];
  age: number;
}

/** Lines a "The NVIDIA GPU ..." start may wait for its "fallen off the bus" line. */
const JOIN_WINDOW = 5;

/**
 * Stateful line parser: recognises each line and joins "The NVIDIA GPU <bdf> /
 * (PCI ID: ...) installed in this system has / fallen off the bus ..." when the
 * message reached us as several lines (syslog splits it; kmsg keeps one record,
 * which arrives here with embedded newlines and is split the same way).
 */
export interface NvidiaLineParser {
  /** Feed one message (may contain '\n'); returns the records it completed. */
  push(message: string): NvidiaRecord[];
}

export function createNvidiaLineParser(): NvidiaLineParser {
  let pending: Pending | null = null;

  function pushLine(line: string): NvidiaRecord | null {
    if (pending !== null && ++pending.age > JOIN_WINDOW) pending = null;
    if (!mayBeNvidia(line)) return null;
    const rec = recogniseLine(line);
    if (rec !== null && rec.kind === 'fallen-off-bus') {
      if (pending !== null) {
        const joined: FallenOffBusRecord = {
          ...rec,
          pci: rec.pci ?? pending.pci,
          pciId: rec.pciId ?? pending.pciId,
          text: [...pending.parts, rec.text].join(' '),
          spanLines: pending.age + 1,
        };
        pending = null;
        return joined;
      }
      return rec;
    }
    if (rec !== null) return rec;
    const start = line.indexOf(NVIDIA_GPU_START);
    if (start !== -1) {
      const p = FALLEN_PCI.exec(line.slice(start));
      const id = PCI_ID.exec(line);
      pending = {
        pci: p === null ? null : normalisePci(p[1] ?? ''),
        pciId: id === null ? null : (id[1] ?? '').toLowerCase(),
        parts: [plain(line)],
        age: 0,
      };
    } else if (pending !== null && line.includes('NVRM')) {
      const id = PCI_ID.exec(line);
      if (id !== null) pending.pciId ??= (id[1] ?? '').toLowerCase();
      if (pending.parts.length < 8) pending.parts.push(plain(line));
    }
    return null;
  }

  return {
    push(message: string): NvidiaRecord[] {
      if (message.indexOf('\n') === -1) {
        const r = pushLine(message);
        return r === null ? [] : [r];
      }
      const out: NvidiaRecord[] = [];
      for (const line of message.split('\n')) {
        if (line.length === 0) continue;
        const r = pushLine(line);
        if (r !== null) out.push(r);
      }
      return out;
    },
  };
}
