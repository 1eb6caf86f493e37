// Kernel log from a file (hosts whose kernel log goes to /var/log/kern.log,
// /var/log/messages, a saved dmesg, a replay). Lines come from the `tail`
// package; this module adds what tail lacks: rotation and truncation.
//
// tail reads by file name, so after a rename it cannot finish the old file.
// We hold our own descriptor on the inode tail started on, count the bytes tail
// has delivered (latin1 keeps one char per byte), and when the path points at a
// new inode we read the old file's remainder from our descriptor, then start a
// new tail on the new file from its beginning. Copytruncate (size shrinks)
// restarts at offset 0.
import fs from 'node:fs';
import { Tail } from 'tail';
import type { Observation } from '../../model/evidence.ts';
import type { SourceState, SourceStatus } from '../../model/source-status.ts';
import { isDrillText } from '../../parse/drill-marker.ts';
import { fromKernel, stripLinePrefix, type StrippedLine } from '../../parse/line-prefix.ts';
import { createNvidiaLineParser, mayBeNvidia, type NvidiaRecord } from '../../parse/nvidia.ts';
import { toObservation } from '../../parse/observation.ts';
import { timestampToMs } from '../../parse/timestamp.ts';

export interface LogFileSourceOptions {
  path: string;
  /** Read the file from its start (replay) instead of from its end. */
  fromBeginning?: boolean;
  acceptDrills: boolean;
  onObservation: (obs: Observation, record: NvidiaRecord, line: StrippedLine) => void;
  now?: () => number;
  /** How often to look for rotation / truncation / a file that appeared. */
  pollMs?: number;
  /** Longer lines are cut: no kernel record is longer than 8 KiB. */
  maxLineBytes?: number;
}

export interface LogFileStats {
  lines: number;
  rotations: number;
  truncations: number;
  drillsIgnored: number;
  nonKernelDropped: number;
}

export class LogFileSource {
  private readonly opts: LogFileSourceOptions;
  private readonly now: () => number;
  private readonly kernel = createNvidiaLineParser();
  private readonly drills = createNvidiaLineParser();
  private readonly maxLine: number;
  private tail: Tail | null = null;
  private fd: number | null = null;
  private ino = -1;
  /** Bytes of the current inode delivered to handleLine (lines + separators). */
  private consumed = 0;
  private gen = 0;
  private timer: NodeJS.Timeout | null = null;
  private state: SourceState = 'starting';
  private since: number;
  private detail = '';
  private firstFile = true;
  readonly stats: LogFileStats = { lines: 0, rotations: 0, truncations: 0, drillsIgnored: 0, nonKernelDropped: 0 };

  constructor(opts: LogFileSourceOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.since = this.now();
    this.maxLine = opts.maxLineBytes ?? 64 * 1024;
  }

  start(): void {
    this.follow();
    this.timer = setInterval(() => this.check(), this.opts.pollMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.closeCurrent();
    this.setState('disabled', 'stopped');
  }

  status(): SourceStatus {
    return { source: 'logfile', state: this.state, since: this.since, detail: this.detail, caughtUp: this.state === 'up' };
  }

  private setState(state: SourceState, detail: string): void {
    if (this.state === 'disabled') return;
    if (state !== this.state) this.since = this.now();
    this.state = state;
    this.detail = detail;
  }

  /** Start following the file now at the path. */
  private follow(): void {
    let fd: number;
    try {
      fd = fs.openSync(this.opts.path, 'r');
    } catch (err) {
      // Whatever appears at the path later is new: read it whole.
      this.firstFile = false;
      this.setState('down', `${this.opts.path}: ${(err as Error).message}`);
      return;
    }
    const st = fs.fstatSync(fd);
    // The first file honours fromBeginning; files that appear later (rotation) are read whole.
    const fromBeginning = this.firstFile ? this.opts.fromBeginning === true : true;
    this.firstFile = false;
    this.fd = fd;
    this.ino = st.ino;
    this.consumed = fromBeginning ? 0 : st.size;
    const gen = ++this.gen;
    try {
      const t = new Tail(this.opts.path, {
        fromBeginning, follow: false, encoding: 'latin1', separator: '\n', flushAtEOF: false,
      });
      t.on('line', (line: string) => {
        if (gen === this.gen) this.onRawLine(line);
      });
      t.on('error', () => {
        if (gen === this.gen) this.check();
      });
      this.tail = t;
      this.setState('up', `following ${this.opts.path}`);
    } catch (err) {
      this.setState('down', `${this.opts.path}: ${(err as Error).message}`);
      this.closeCurrent();
    }
  }

  private closeCurrent(): void {
    this.gen++;
    if (this.tail !== null) this.tail.unwatch();
    this.tail = null;
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Poll: rotation (new inode), truncation (size below what we read), or the file (re)appearing. */
  private check(): void {
    if (this.state === 'disabled') return;
    let st: fs.Stats;
    try {
      st = fs.statSync(this.opts.path);
    } catch {
      return; // between rename and create: keep the old descriptor, look again later
    }
    if (this.fd === null) {
      this.follow();
      return;
    }
    if (st.ino !== this.ino) {
      this.stats.rotations++;
      this.drainOld();
      this.follow();
    } else if (st.size < this.consumed) {
      this.stats.truncations++;
      this.closeCurrent();
      this.firstFile = false;
      this.follow();
    }
  }

  /** Read what tail had not delivered from the rotated file, through our own descriptor. */
  private drainOld(): void {
    const fd = this.fd;
    const from = this.consumed;
    this.closeCurrentTailOnly();
    if (fd === null) return;
    try {
      const size = fs.fstatSync(fd).size;
      let pos = from;
      let rest = '';
      const buf = Buffer.allocUnsafe(64 * 1024);
      while (pos < size) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
        if (n <= 0) break;
        pos += n;
        const parts = (rest + buf.toString('latin1', 0, n)).split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) this.onRawLine(p);
      }
      if (rest.length > 0) this.onRawLine(rest);
    } finally {
      fs.closeSync(fd);
      this.fd = null;
    }
  }

  private closeCurrentTailOnly(): void {
    this.gen++;
    if (this.tail !== null) this.tail.unwatch();
    this.tail = null;
  }

  private onRawLine(latin1: string): void {
    this.consumed += latin1.length + 1;
    this.stats.lines++;
    const cut = latin1.length > this.maxLine ? latin1.slice(0, this.maxLine) : latin1;
    // Cheap check on the raw bytes before decoding anything.
    if (!mayBeNvidia(cut)) return;
    const s = stripLinePrefix(Buffer.from(cut, 'latin1').toString('utf8'));
    const drill = isDrillText(s.message, s.ident);
    if (drill && !this.opts.acceptDrills) {
      this.stats.drillsIgnored++;
      return;
    }
    if (!drill && fromKernel(s) === false) {
      this.stats.nonKernelDropped++;
      return;
    }
    const now = this.now();
    const at = timestampToMs(s.timestamp, now) ?? now;
    for (const r of (drill ? this.drills : this.kernel).push(s.message)) {
      const obs = toObservation(r, 'logfile', at, drill);
      if (obs !== null) this.opts.onObservation(obs, r, s);
    }
  }
}
