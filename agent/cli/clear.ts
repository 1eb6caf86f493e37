// `gpu-health-agent clear`: an operator's explicit clear, from the node itself.
// It talks to the running agent over the control socket in the state directory
// (root only); the debug HTTP endpoint stays read-only.
import { parseArgs } from 'node:util';
import type { Command } from './command.ts';
import { sendControlRequest, controlSocketPath } from '../runtime/control-socket.ts';
import { errorText } from '../model/text.ts';

const HELP = `usage: gpu-health-agent clear [--gpu PCI|UUID|INDEX] [--state-dir DIR]

Clears the running agent's findings: all of them, or one GPU's.
  --gpu ID          PCI bus id (0000:3b:00.0), UUID (GPU-...) or index
  --state-dir DIR   the agent's state directory (default /var/lib/gpu-health-agent)
`;

export const command: Command = {
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({ args, options: { gpu: { type: 'string' }, 'state-dir': { type: 'string', default: '/var/lib/gpu-health-agent' }, help: { type: 'boolean', short: 'h' } } }));
    } catch (err) {
      process.stderr.write(`clear: ${errorText(err)}\n${HELP}`);
      return 2;
    }
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const stateDir = values['state-dir'];
    try {
      const reply = await sendControlRequest(stateDir, values.gpu === undefined ? { op: 'clear' } : { op: 'clear', gpu: values.gpu });
      if (!reply.ok) {
        process.stderr.write(`clear: the agent refused: ${reply.error}\n`);
        return 1;
      }
      process.stdout.write(`${reply.detail}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`clear: cannot reach the agent at ${controlSocketPath(stateDir)}: ${errorText(err)}\n`);
      return 1;
    }
  },
};
