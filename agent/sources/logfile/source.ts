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
//
// position() is (inode, bytes of complete lines read); the runtime persists it,
// and `resumeAt` continues from there after a restart when the path still
// holds that inode: what was written while the agent was down is read, what it
// had read is not read again. We read that backlog from our own descriptor and
// let tail follow from where it starts watching.
//
// Given this boot's start time, backlog lines written by an earlier boot (the
// file survives reboots) are not evidence: see previous-boot.ts.
import fs from 'node:fs';
import { Tail } from 'tail';
import type { Observation } from '../../model/evidence.ts';
import type { SourceState, SourceStatus } from '../../model/source-status.ts';
import { createKernelLogRecogniser, MAX_LINE_BYTES, rejectionCounts, type Rejection, type RejectionCounts } from '../../parse/kernel-log.ts';
import { stripLinePrefix, type StrippedLine } from '../../parse/line-prefix.ts';
import { mayBeNvidia, type NvidiaRecord } from '../../parse/nvidia.ts';
import { toObservation } from '../../parse/observation.ts';
import { timestampToMs } from '../../parse/timestamp.ts';
import { isPreviousBoot, scanBacklog, type BootJudge } from './previous-boot.ts';
import { readLines } from './read-lines.ts';
import { errorText } from '../../model/text.ts';

export interface LogFileSourceOptions {
  path: string;
  /** Read the file from its start (replay) instead of from its end. */
  fromBeginning?: boolean;
  /** A persisted position: continue there if the path is still that inode and not shorter; else fromBeginning applies. */
  resumeAt?: { ino: number; offset: number } | null;
  acceptDrills: boolean;
  onObservation: (obs: Observation, record: NvidiaRecord, line: StrippedLine) => void;
  /** A line that looks like NVIDIA's but is not the driver's whole record (counted in stats too). */
  onRejected?: (why: Rejection, record: NvidiaRecord, line: StrippedLine) => void;
  now?: () => number;
  /** This boot's start (ms since the epoch): backlog lines from earlier boots are skipped. Absent or null: every line counts. */
  bootTimeMs?: number | null;
  /** How often to look for rotation / truncation / a file that appeared. */
  pollMs?: number;
}

export interface LogFileStats {
  lines: number;
  rotations: number;
  truncations: number;
  drillsIgnored: number;
  /** Lines that looked like NVIDIA's and are not evidence, by why: how forging attempts show. */
  rejected: RejectionCounts;
  /** The file a user other than root can write: any such writer can forge kernel lines. */
  writableByOthers: boolean;
  /** Kernel NVIDIA lines from an earlier boot, not taken as evidence (GPU identity lines still name GPUs). */
  skippedPreviousBoot: number;
}

export class LogFileSource {
  private readonly opts: LogFileSourceOptions;
  private readonly now: () => number;
  private readonly recogniser = createKernelLogRecogniser();
  /** Lines of earlier boots go through their own recogniser: only GPU identities come out of it. */
  private readonly previous = createKernelLogRecogniser();
  /** Set while the backlog read at start is being judged. */
  private judge: BootJudge | null = null;
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
  /** The first line tail delivers completes this partial line from the backlog. */
  private carry: string | null = null;
  readonly stats: LogFileStats = { lines: 0, rotations: 0, truncations: 0, drillsIgnored: 0, rejected: rejectionCounts(), writableByOthers: false, skippedPreviousBoot: 0 };

  constructor(opts: LogFileSourceOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.since = this.now();
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
      this.setState('down', `${this.opts.path}: ${errorText(err)}`);
      return;
    }
    const st = fs.fstatSync(fd);
    const r = this.firstFile ? this.opts.resumeAt : null;
    const resume = r != null && r.ino === st.ino && r.offset <= st.size ? r.offset : null;
    // The first file honours its persisted position, else fromBeginning; files that
    // appear later (rotation) are read whole. A position on another inode (rotated
    // while the agent was down) or past the end (truncated) means a new file: whole.
    const fromBeginning = resume === null && (this.firstFile ? this.opts.fromBeginning === true || r != null : true);
    const backlog = this.firstFile;
    this.firstFile = false;
    this.fd = fd;
    this.ino = st.ino;
    this.consumed = fromBeginning ? 0 : (resume ?? st.size);
    // Only what the file held when the agent started can be from an earlier boot.
    const boot = this.opts.bootTimeMs ?? null;
    this.judge =
      backlog && boot !== null && this.consumed < st.size
        ? { bootTimeMs: boot, backlogEnd: st.size, scan: scanBacklog(fd, this.consumed, st.size, st.mtimeMs) }
        : null;
    // The first file's backlog is read here, synchronously, before the source says it
    // is up: the agent is ready (and decides a condition) only once it has seen those
    // lines. Left to the tail, they came after readiness and a True went out first.
    const backlogFrom = resume ?? (fromBeginning && backlog ? 0 : null);
    const gen = ++this.gen;
    try {
      const t = new Tail(this.opts.path, {
        fromBeginning: fromBeginning && backlogFrom === null, follow: false, encoding: 'latin1', separator: '\n', flushAtEOF: false,
      });
      t.on('line', (line: string) => {
        if (gen !== this.gen) return;
        const carry = this.carry;
        this.carry = null;
        this.onRawLine(carry === null ? line : carry + line);
      });
      t.on('error', () => {
        if (gen === this.gen) this.check();
      });
      this.tail = t;
      if (backlogFrom !== null) this.readBacklog(fd, backlogFrom, tailStart(t, st.size));
      const writers = otherWriters(st);
      this.stats.writableByOthers = writers !== null;
      this.setState('up', `following ${this.opts.path}${writers === null ? '' : `; writable by ${writers}, who can forge kernel lines in it (prefer /dev/kmsg)`}`);
    } catch (err) {
      this.setState('down', `${this.opts.path}: ${errorText(err)}`);
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
      const rest = (this.carry ?? '') + this.readLines(fd, from, fs.fstatSync(fd).size);
      this.carry = null;
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

  /** Lines between a persisted position and where tail started watching; a partial last line waits for tail's first. */
  private readBacklog(fd: number, from: number, to: number): void {
    const rest = this.readLines(fd, from, to);
    this.carry = rest.length > 0 ? rest : null;
  }

  /** Reads [from, to) of fd line by line into onRawLine; returns the unterminated rest. */
  private readLines(fd: number, from: number, to: number): string {
    return readLines(fd, from, to, (line) => this.onRawLine(line));
  }

  /** Where reading has got to, for the state file; null before the file was ever opened. */
  position(): { path: string; ino: number; offset: number } | null {
    if (this.ino >= 0) return { path: this.opts.path, ino: this.ino, offset: this.consumed };
    const r = this.opts.resumeAt;
    return r == null ? null : { path: this.opts.path, ino: r.ino, offset: r.offset };
  }

  private onRawLine(latin1: string): void {
    const lineStart = this.consumed;
    this.consumed += latin1.length + 1;
    this.stats.lines++;
    // latin1: one character per byte, so the cut is in bytes.
    const cut = latin1.length > MAX_LINE_BYTES ? latin1.slice(0, MAX_LINE_BYTES) : latin1;
    // Cheap check on the raw bytes before decoding anything.
    if (!mayBeNvidia(cut)) {
      this.recogniser.other(cut);
      return;
    }
    const s = stripLinePrefix(Buffer.from(cut, 'latin1').toString('utf8'));
    const now = this.now();
    const stamped = timestampToMs(s.timestamp, now);
    const at = stamped ?? now;
    if (this.judge !== null) {
      if (lineStart >= this.judge.backlogEnd) this.judge = null;
      else if (isPreviousBoot(this.judge, s, stamped, lineStart, now)) {
        this.fromPreviousBoot(s, at);
        return;
      }
    }
    for (const r of this.recogniser.line(s)) {
      if (r.rejected !== null) {
        this.stats.rejected[r.rejected]++;
        this.opts.onRejected?.(r.rejected, r.record, s);
      } else if (r.drill && !this.opts.acceptDrills) {
        this.stats.drillsIgnored++;
      } else {
        const obs = toObservation(r.record, 'logfile', at, r.drill);
        if (obs !== null) this.opts.onObservation(obs, r.record, s);
      }
    }
  }

  /** An earlier boot's line: which PCI address has which UUID still holds; nothing else is evidence. */
  private fromPreviousBoot(s: StrippedLine, at: number): void {
    let named = false;
    for (const r of this.previous.line(s)) {
      if (r.rejected !== null || r.drill || r.record.kind !== 'gpu-identity') continue;
      const obs = toObservation(r.record, 'logfile', at, false);
      if (obs === null) continue;
      named = true;
      this.opts.onObservation(obs, r.record, s);
    }
    if (!named) this.stats.skippedPreviousBoot++;
  }
}

/** Who besides root can write the file (owner, group, others), or null when only root can. */
export function otherWriters(st: fs.Stats): string | null {
  const who: string[] = [];
  if (st.uid !== 0 && (st.mode & 0o200) !== 0) who.push(`its owner (uid ${st.uid})`);
  if (st.gid !== 0 && (st.mode & 0o020) !== 0) who.push(`its group (gid ${st.gid})`);
  if ((st.mode & 0o002) !== 0) who.push('every user');
  return who.length === 0 ? null : who.join(', ');
}

/**
 * Where tail began watching: its cursor right after construction (tail 2.x keeps
 * it in currentCursorPos), else the size we saw just before; bytes appended in
 * between would then be skipped, a window of microseconds.
 */
function tailStart(t: Tail, sizeBefore: number): number {
  const pos = (t as unknown as { currentCursorPos?: unknown }).currentCursorPos;
  return typeof pos === 'number' && pos >= sizeBefore ? pos : sizeBefore;
}
