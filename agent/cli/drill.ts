// `gpu-health-agent drill`: writes a clearly marked test record, so a user can
// rehearse a GPU failure on a real node. The record goes to /dev/kmsg under the
// user facility (the kernel never lets user space claim facility 0) with the
// drill tag and [DRILL] in its text; an agent run with --accept-drills treats it
// as evidence and labels the finding drill everywhere. Without that flag, agents
// count and ignore it.
import { appendFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from './command.ts';
import { formatDrill, writeDrill, type DrillSpec } from '../sources/kmsg/drill.ts';
import { errorText } from '../model/text.ts';

const HELP = `usage: gpu-health-agent drill (--xid N | --sxid N | --fallen-off-bus | --aer SEVERITY | --init-failed) --pci ADDRESS [options]

Writes a marked drill record that an agent run with --accept-drills treats as
GPU evidence (labelled drill), e.g. \`drill --xid 79 --pci 0000:3b:00.0\`.
  --xid N             an Xid record (79: fallen off the bus, 48: double-bit ECC, ...)
  --sxid N            an NVSwitch SXid record (add --fatal for a fatal one)
  --fallen-off-bus    a "GPU has fallen off the bus" record without an Xid
  --aer SEVERITY      a PCIe AER bus-error report on the GPU: fatal, nonfatal or correctable
  --init-failed       the driver's "RmInitAdapter failed!" for the GPU (fatal only once NVML/DCGM
                      or the Node's capacity show the GPU missing on two looks at the bus)
  --pci ADDRESS       the GPU's (or switch's) PCI bus id
  --text TEXT         free text after the marker (for Xid 154, the recovery action line)
  --fatal             SXid: mark it fatal
  --kmsg PATH         where to write (default /dev/kmsg); a regular file is appended to
  --log-file PATH     append to a kernel log file instead of /dev/kmsg
`;

export const command: Command = {
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          xid: { type: 'string' },
          sxid: { type: 'string' },
          'fallen-off-bus': { type: 'boolean' },
          aer: { type: 'string' },
          'init-failed': { type: 'boolean' },
          pci: { type: 'string' },
          text: { type: 'string' },
          fatal: { type: 'boolean' },
          kmsg: { type: 'string' },
          'log-file': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (err) {
      process.stderr.write(`drill: ${errorText(err)}\n${HELP}`);
      return 2;
    }
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const code = (name: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d{1,5}$/.test(v)) throw new Error(`--${name}: expected a number, got "${v}"`);
      return Number(v);
    };
    let line: string;
    try {
      if (values.pci === undefined) throw new Error('--pci is required');
      const spec: DrillSpec = { pci: values.pci };
      const xid = code('xid', values.xid);
      const sxid = code('sxid', values.sxid);
      if (xid !== undefined) spec.xid = xid;
      if (sxid !== undefined) spec.sxid = sxid;
      if (values['fallen-off-bus'] === true) spec.fallenOffBus = true;
      if (values.aer !== undefined) {
        if (values.aer !== 'fatal' && values.aer !== 'nonfatal' && values.aer !== 'correctable') throw new Error(`--aer: expected fatal, nonfatal or correctable, got "${values.aer}"`);
        spec.aer = values.aer;
      }
      if (values['init-failed'] === true) spec.initFailed = true;
      if (values.text !== undefined) spec.text = values.text;
      if (values.fatal === true) spec.fatal = true;
      line = formatDrill(spec);
    } catch (err) {
      process.stderr.write(`drill: ${errorText(err)}\n${HELP}`);
      return 2;
    }
    const target = values['log-file'] ?? values.kmsg ?? '/dev/kmsg';
    try {
      if (values['log-file'] !== undefined || isRegularFile(target)) appendFileSync(target, `${line}\n`);
      else writeDrill(target, line);
    } catch (err) {
      process.stderr.write(`drill: cannot write to ${target}: ${errorText(err)}\n`);
      return 1;
    }
    process.stdout.write(`wrote drill to ${target}: ${line}\n`);
    return 0;
  },
};

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
