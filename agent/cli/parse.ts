// `gpu-health-agent parse [FILE]`: kernel-log lines in (any common prefix, or
// bare messages), one JSON object per recognised NVIDIA record out. Shows what
// the agent would have seen in a saved dmesg / kern.log. Reads bytes, cuts
// long lines, and never fails on garbage: exit 0 unless the file cannot be opened.
import fs from 'node:fs';
import type { Command } from './command.ts';
import { createKernelLogRecogniser, MAX_LINE_BYTES, REJECTION_TEXT } from '../parse/kernel-log.ts';
import { stripLinePrefix } from '../parse/line-prefix.ts';
import { mayBeNvidia, type NvidiaRecord } from '../parse/nvidia.ts';
import { errorText } from '../model/text.ts';

const NL = 0x0a;

export interface ParsedOutput {
  lineNo: number;
  kind: NvidiaRecord['kind'];
  code: number | null;
  pci: string | null;
  [field: string]: unknown;
}

/**
 * Line-by-line state of a parse run, usable without a CLI around it. Every
 * record that looks like NVIDIA's is printed; `counts` says whether the agent
 * would take it as evidence (a drill: only with --accept-drills) and `why` why not.
 */
export function createParseRun(emit: (out: ParsedOutput) => void, acceptDrills = false): (line: string, lineNo: number) => void {
  const recogniser = createKernelLogRecogniser();
  return (line, lineNo) => {
    if (!mayBeNvidia(line)) {
      recogniser.other(line);
      return;
    }
    const s = stripLinePrefix(line);
    for (const { record: r, drill, rejected } of recogniser.line(s)) {
      const span = r.kind === 'fallen-off-bus' ? r.spanLines : 1;
      const out: ParsedOutput = { lineNo: lineNo - span + 1, ...r };
      if (span > 1) out.endLineNo = lineNo;
      if (s.timestamp !== null) out.timestamp = s.timestamp;
      if (s.monoUsec !== null) out.monoUsec = s.monoUsec;
      if (s.facility !== null) out.facility = s.facility;
      if (s.ident !== null) out.ident = s.ident;
      out.drill = drill;
      out.evidence = rejected !== null ? 'rejected' : drill ? 'drill' : 'kernel';
      out.counts = rejected === null && (!drill || acceptDrills);
      if (rejected !== null) {
        out.rejected = rejected;
        out.why = REJECTION_TEXT[rejected];
      } else if (drill && !acceptDrills) out.why = 'a drill: counts only where the agent runs with --accept-drills';
      emit(out);
    }
  };
}

async function parseStream(stream: NodeJS.ReadableStream, write: (s: string) => void): Promise<void> {
  const run = createParseRun((o) => write(JSON.stringify(o) + '\n'));
  let lineNo = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let overflow = false;
  const finish = (): void => {
    lineNo++;
    const buf = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    overflow = false;
    run(buf.toString('utf8'), lineNo);
  };
  const add = (chunk: Buffer, from: number, to: number): void => {
    if (overflow || to <= from) return;
    const room = MAX_LINE_BYTES - pendingLen;
    const take = Math.min(room, to - from);
    pending.push(chunk.subarray(from, from + take));
    pendingLen += take;
    if (take < to - from) overflow = true;
  };
  for await (const c of stream) {
    const chunk = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    let start = 0;
    for (let nl = chunk.indexOf(NL, start); nl !== -1; nl = chunk.indexOf(NL, start)) {
      add(chunk, start, nl);
      finish();
      start = nl + 1;
    }
    add(chunk, start, chunk.length);
  }
  if (pendingLen > 0 || overflow) finish();
}

export const command: Command = {
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(
        'usage: gpu-health-agent parse [FILE]\n\n' +
          'Reads kernel-log lines from FILE (or stdin): dmesg, dmesg -T, dmesg -x, syslog/journal,\n' +
          'raw /dev/kmsg records, or bare messages. Prints one JSON object per record that looks\n' +
          "like NVIDIA's (kind xid, sxid, xid154, fallen-off-bus, gpu-identity) with lineNo, code,\n" +
          'pci and the parsed fields, and whether the agent would count it as evidence ("counts";\n' +
          'when not, "rejected" and "why": not the driver\'s own record from its first byte, no\n' +
          'PCI address, not from the kernel, a drill). Other lines print nothing.\n',
      );
      return 0;
    }
    const file = args.find((a) => !a.startsWith('-'));
    let stream: NodeJS.ReadableStream;
    if (file === undefined || file === '-') stream = process.stdin;
    else {
      try {
        fs.accessSync(file, fs.constants.R_OK);
      } catch (err) {
        process.stderr.write(`parse: ${errorText(err)}\n`);
        return 1;
      }
      stream = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    }
    const chunks: string[] = [];
    let size = 0;
    const write = (s: string): void => {
      chunks.push(s);
      size += s.length;
      if (size > 64 * 1024) {
        process.stdout.write(chunks.join(''));
        chunks.length = 0;
        size = 0;
      }
    };
    try {
      await parseStream(stream, write);
    } catch (err) {
      // A read error mid-file (EIO, EISDIR): report what we have, say why on stderr.
      process.stderr.write(`parse: ${errorText(err)}\n`);
    }
    if (chunks.length > 0) process.stdout.write(chunks.join(''));
    return 0;
  },
};
