// STAND-IN DCGM host engine (not nv-hostengine). It owns a real unix socket (and
// optionally a TCP port) and answers the private line protocol spoken by the
// stand-in libdcgm.so.4 in native/dcgm/. It keeps injected field values, health
// watches and health incidents the way a host engine would, so the agent's real
// koffi binding can be driven end to end without a GPU.
//
// Control verbs (CTL-*) come from `npm run standin:dcgm -- <command>` and are
// answered even in hang mode; every other verb is what the library sends.
import net from 'node:net';
import fs from 'node:fs';

export const HEALTH_PASS = 0;
export const HEALTH_WARN = 10;
export const HEALTH_FAIL = 20;
const SYSTEM_ALL = 0xffffffff;
const GROUP_ALL_GPUS = 0x7fffffff;

const ST_OK = 0;
const ST_BADPARAM = -1;
const ST_UNKNOWN_FIELD = -13;
const ST_NO_DATA = -14;
const ST_NOT_WATCHED = -16;
const INT64_BLANK = 0x7ffffffffffffff0n;

/** Declared field types (a subset of dcgm_fields.h): inject refuses a mismatch, as DCGM does. */
const FIELD_TYPES: Record<number, 'i' | 'd' | 's'> = {
  50: 's', 54: 's', 57: 's', 150: 'i', 155: 'd', 170: 'i', 171: 'i', 172: 's', 173: 'i', 174: 'i', 202: 'i', 230: 'i', 310: 'i', 311: 'i', 312: 'i', 313: 'i',
  390: 'i', 391: 'i', 392: 'i', 393: 'i', 394: 'i', 395: 'i', 396: 'i', 409: 'i', 419: 'i', 429: 'i', 439: 'i',
  450: 'i', 1212: 'i', 1507: 'i', 1523: 'i',
};

/** Xids the DCGM 4.6 health module always reports with system 0xFFFFFFFF (sticky until restart). */
const DEVASTATING_XIDS: Record<number, { health: number; code: number }> = {
  48: { health: HEALTH_FAIL, code: 101 }, 74: { health: HEALTH_FAIL, code: 101 }, 79: { health: HEALTH_FAIL, code: 120 },
  94: { health: HEALTH_WARN, code: 131 }, 95: { health: HEALTH_FAIL, code: 81 }, 119: { health: HEALTH_FAIL, code: 101 },
  120: { health: HEALTH_FAIL, code: 101 }, 140: { health: HEALTH_FAIL, code: 101 },
};

export interface Incident {
  gpu: number;
  system: number;
  health: number;
  code: number;
  message: string;
  /** Entity group: 1 GPU (default), 3 NvSwitch. */
  entityGroup: number;
}

interface Sample {
  type: 'i' | 'd' | 's';
  ts: bigint;
  value: string;
}

export interface EngineOptions {
  socket?: string;
  port?: number;
  gpus: number;
}

export type GarbageMode = 'off' | 'bytes' | 'values';

const enc = (s: string): string => (s === '' ? '%00' : encodeURIComponent(s));
const dec = (s: string): string => {
  try {
    return decodeURIComponent(s).replace(/\0/g, '');
  } catch {
    return s;
  }
};

export function gpuUuid(i: number): string {
  return `GPU-d0d0d0d0-0000-4000-8000-${(0x5000 + i).toString(16).padStart(12, '0')}`;
}
/** Upper-case, 8-digit domain: how DCGM prints pciBusId. */
export function gpuPciBusId(i: number): string {
  return `00000000:${(0x10 + i).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
}

export class DcgmStandinEngine {
  gpus: number;
  visibleGpus: number;
  hang = false;
  garbage: GarbageMode = 'off';
  healthSystems = 0;
  readonly watched = new Set<number>();
  readonly values = new Map<string, Sample>();
  readonly incidents: Incident[] = [];
  readonly fieldGroups = new Map<number, number[]>();
  readonly groups = new Map<number, number[]>();
  private nextId = 1;
  private readonly parked: Array<() => void> = [];
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  requests = 0;

  /** Field ids this engine does not know, as an older DCGM would not (`--without-fields`). */
  readonly unknownFields: ReadonlySet<number>;

  constructor(gpus: number, unknownFields: readonly number[] = []) {
    this.gpus = gpus;
    this.visibleGpus = gpus;
    this.unknownFields = new Set(unknownFields);
  }

  private fieldType(field: number): 'i' | 'd' | 's' | undefined {
    return this.unknownFields.has(field) ? undefined : FIELD_TYPES[field];
  }

  async listen(opts: EngineOptions): Promise<void> {
    if (opts.socket) {
      try {
        fs.unlinkSync(opts.socket);
      } catch {
        // no stale socket
      }
      await this.listenOn((s) => s.listen(opts.socket));
    }
    if (opts.port !== undefined) await this.listenOn((s) => s.listen(opts.port, '127.0.0.1'));
  }

  private listenOn(start: (s: net.Server) => void): Promise<void> {
    const server = net.createServer((sock) => this.serve(sock));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => resolve());
      start(server);
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  }

  private serve(sock: net.Socket): void {
    this.sockets.add(sock);
    let buf = '';
    const queue: string[] = [];
    let busy = false;
    const pump = (): void => {
      while (!busy && queue.length > 0) {
        const line = queue[0]!;
        const control = line.startsWith('CTL-');
        if (this.hang && !control) {
          // Park: answer later, in order, when the hang is lifted.
          busy = true;
          this.parked.push(() => {
            busy = false;
            pump();
          });
          return;
        }
        queue.shift();
        const reply = control ? this.control(line) : this.garbled(line, this.request(line));
        if (!sock.destroyed) sock.write(reply + '\n');
      }
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        queue.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      pump();
    });
    sock.on('error', () => {});
    sock.on('close', () => this.sockets.delete(sock));
  }

  private setHang(on: boolean): void {
    this.hang = on;
    if (!on) for (const resume of this.parked.splice(0)) resume();
  }

  private garbled(line: string, reply: string): string {
    if (this.garbage === 'bytes') return 'zz\u00ff\u0001 not-a-reply';
    if (this.garbage === 'values' && line.startsWith('HEALTHCHECK')) return `0 20 99999`; // a FAIL with more incidents than the struct holds
    return reply;
  }

  private gpuIds(group: number): number[] {
    const all = Array.from({ length: this.visibleGpus }, (_, i) => i);
    if (group === GROUP_ALL_GPUS) return all;
    return (this.groups.get(group) ?? []).filter((g) => g < this.visibleGpus);
  }

  /** One library request to one reply line. */
  request(line: string): string {
    this.requests++;
    const [verb, ...a] = line.split(' ');
    const n = (i: number): number => Number(a[i]);
    switch (verb) {
      case 'HELLO':
        return `${ST_OK} standin-4.6.0`;
      case 'ISHEALTHY':
        return `${ST_OK} 0`;
      case 'GPUS': {
        const ids = this.gpuIds(GROUP_ALL_GPUS);
        return [ST_OK, ids.length, ...ids].join(' ');
      }
      case 'ATTR': {
        const g = n(0);
        if (!(g >= 0 && g < this.visibleGpus)) return `${ST_BADPARAM}`;
        return [ST_OK, enc('NVIDIA'), enc('NVIDIA Stand-in H100 (not real)'), enc(gpuPciBusId(g)),
          enc(`STANDIN${1000 + g}`), enc(gpuUuid(g)), enc('96.00.00.00.01'), enc('580.00.00-standin')].join(' ');
      }
      case 'GROUPCREATE': {
        const id = this.nextId++;
        this.groups.set(id, n(0) === 0 ? this.gpuIds(GROUP_ALL_GPUS) : []);
        return `${ST_OK} ${id}`;
      }
      case 'GROUPADD': {
        const grp = this.groups.get(n(0));
        if (!grp) return `${ST_BADPARAM}`;
        grp.push(n(1));
        return `${ST_OK}`;
      }
      case 'GROUPDESTROY':
        this.groups.delete(n(0));
        return `${ST_OK}`;
      case 'HEALTHSET':
        this.healthSystems = n(1) >>> 0;
        return `${ST_OK}`;
      case 'HEALTHGET':
        return `${ST_OK} ${this.healthSystems}`;
      case 'HEALTHCHECK':
        return this.healthCheck(n(0), n(1));
      case 'FGCREATE': {
        // A field the engine does not know fails the whole group, as in DCGM.
        const ids = a.slice(2).map(Number);
        if (ids.some((f) => this.fieldType(f) === undefined)) return `${ST_UNKNOWN_FIELD}`;
        const id = this.nextId++;
        this.fieldGroups.set(id, ids);
        return `${ST_OK} ${id}`;
      }
      case 'FGDESTROY':
        this.fieldGroups.delete(n(0));
        return `${ST_OK}`;
      case 'WATCH': {
        const fields = this.fieldGroups.get(n(1));
        if (!fields) return `${ST_BADPARAM}`;
        for (const f of fields) this.watched.add(f);
        return `${ST_OK}`;
      }
      case 'UNWATCH':
        for (const f of this.fieldGroups.get(n(1)) ?? []) this.watched.delete(f);
        return `${ST_OK}`;
      case 'UPDATEALL':
        return `${ST_OK}`;
      case 'LATEST':
        return this.latest(n(0), a.slice(2).map(Number));
      case 'INJECT':
        return this.inject(n(0), n(1), a[2] as 'i' | 'd' | 's', BigInt(a[3] ?? '0'), dec(a[4] ?? ''));
      default:
        return `${ST_BADPARAM}`;
    }
  }

  private healthCheck(group: number, capacity: number): string {
    const gpus = new Set(this.gpuIds(group));
    const hits = this.incidents.filter(
      (i) => (i.entityGroup !== 1 || gpus.has(i.gpu)) && (i.system === SYSTEM_ALL || (i.system & this.healthSystems) !== 0),
    );
    const overall = hits.reduce((m, i) => Math.max(m, i.health), HEALTH_PASS);
    const sent = hits.slice(0, capacity);
    const parts: Array<string | number> = [ST_OK, overall, hits.length];
    for (const i of sent) parts.push(i.system >>> 0, i.health, i.code, i.entityGroup, i.gpu, enc(i.message));
    return parts.join(' ');
  }

  private latest(gpu: number, fields: number[]): string {
    const parts: Array<string | number> = [ST_OK];
    for (const f of fields) {
      const type = this.fieldType(f);
      const s = this.values.get(`${gpu}/${f}`);
      if (type === undefined) parts.push(f, 'i', ST_UNKNOWN_FIELD, 0, INT64_BLANK.toString());
      else if (s) parts.push(f, s.type, ST_OK, s.ts.toString(), s.type === 's' ? enc(s.value) : s.value);
      else if (this.watched.has(f)) parts.push(f, type, ST_NO_DATA, 0, type === 's' ? enc('<<<NULL>>>') : INT64_BLANK.toString());
      else parts.push(f, type, ST_NOT_WATCHED, 0, type === 's' ? enc('<<<NULL>>>') : INT64_BLANK.toString());
    }
    return parts.join(' ');
  }

  inject(gpu: number, field: number, type: 'i' | 'd' | 's', ts: bigint, value: string): string {
    const declared = this.fieldType(field);
    if (declared === undefined) return `${ST_UNKNOWN_FIELD}`;
    if (declared !== type || !(gpu >= 0 && gpu < this.gpus)) return `${ST_BADPARAM}`;
    this.values.set(`${gpu}/${field}`, { type, ts, value });
    if (field === 230) this.xidIncident(gpu, Number(value));
    return `${ST_OK}`;
  }

  /** What DCGM 4.6's health module does with an Xid sample (the subset the stand-in mimics). */
  private xidIncident(gpu: number, xid: number): void {
    const dev = DEVASTATING_XIDS[xid];
    const mem = [31, 32, 43, 63, 64].includes(xid);
    if (!dev && !mem) return;
    this.incidents.push({
      gpu,
      entityGroup: 1,
      system: dev ? SYSTEM_ALL : 0x10,
      health: dev ? dev.health : xid === 64 ? HEALTH_FAIL : HEALTH_WARN,
      code: dev ? dev.code : 101,
      message: `Detected XID ${xid} for GPU ${gpu}`,
    });
  }

  /** Control verbs from the stand-in CLI. */
  control(line: string): string {
    const [verb, ...a] = line.split(' ');
    switch (verb) {
      case 'CTL-HANG':
        this.setHang(a[0] === 'on');
        return `${ST_OK}`;
      case 'CTL-GARBAGE':
        this.garbage = (a[0] as GarbageMode) ?? 'off';
        return `${ST_OK}`;
      case 'CTL-INCIDENT':
        this.incidents.push({
          gpu: Number(a[0]),
          system: Number(a[1]) >>> 0,
          health: Number(a[2]),
          code: Number(a[3]),
          entityGroup: Number(a[4] ?? 1),
          message: dec(a[5] ?? ''),
        });
        return `${ST_OK}`;
      case 'CTL-CLEAR':
        this.incidents.length = 0;
        this.values.clear();
        return `${ST_OK}`;
      case 'CTL-GPUS':
        this.visibleGpus = Math.min(Number(a[0]), this.gpus);
        return `${ST_OK}`;
      case 'CTL-STATE':
        return `${ST_OK} ${enc(JSON.stringify(this.state()))}`;
      default:
        return `${ST_BADPARAM}`;
    }
  }

  state(): Record<string, unknown> {
    return {
      gpus: this.gpus,
      visibleGpus: this.visibleGpus,
      hang: this.hang,
      garbage: this.garbage,
      healthSystems: this.healthSystems,
      watched: [...this.watched].sort((x, y) => x - y),
      incidents: this.incidents.length,
      connections: this.sockets.size,
      parked: this.parked.length,
      requests: this.requests,
    };
  }
}
