// `gpu-health-agent status`: what the local agent sees, from its debug endpoint.
import { parseArgs } from 'node:util';
import type { Command } from './command.ts';
import type { DebugState } from '../runtime/inspect/state-types.ts';
import { formatStatus } from './status-table.ts';
import { errorText } from '../model/text.ts';

const HELP = `usage: gpu-health-agent status [--addr HOST:PORT] [--json]

Prints the agent's view per GPU (health, findings, last seen), the node
condition and the sources, read from the local debug endpoint.
  --addr HOST:PORT   debug endpoint (default 127.0.0.1:20277)
  --json             print /debug/state as JSON instead of a table
`;

export async function fetchState(addr: string, timeoutMs = 3000): Promise<DebugState> {
  const res = await fetch(`http://${addr}/debug/state`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /debug/state: HTTP ${res.status}`);
  return (await res.json()) as DebugState;
}

export const command: Command = {
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({ args, options: { addr: { type: 'string', default: '127.0.0.1:20277' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } }));
    } catch (err) {
      process.stderr.write(`status: ${errorText(err)}\n${HELP}`);
      return 2;
    }
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    let state: DebugState;
    try {
      state = await fetchState(values.addr);
    } catch (err) {
      process.stderr.write(`status: cannot reach the agent at ${values.addr}: ${errorText(err)}\n`);
      return 1;
    }
    process.stdout.write(values.json ? JSON.stringify(state, null, 2) + '\n' : formatStatus(state));
    return 0;
  },
};
