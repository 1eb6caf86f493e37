// Command dispatcher. Each command lives in its own module and is loaded lazily
// so `parse` does not pay for the Kubernetes client or native bindings.
import type { Command } from './command.ts';

export type { Command } from './command.ts';

// name -> [one-line summary, loader]. Summaries live here so `--help` loads nothing.
const commands: Record<string, [string, () => Promise<Command>]> = {
  run: ['run the agent on this node', async () => (await import('./run.ts')).command],
  status: ['show what the running agent sees, per GPU', async () => (await import('./status.ts')).command],
  clear: ['clear findings (all, or one GPU) in the running agent', async () => (await import('./clear.ts')).command],
  drill: ['write a marked test Xid/SXid record to the kernel log', async () => (await import('./drill.ts')).command],
  parse: ['print the NVIDIA records found in a kernel log (file or stdin)', async () => (await import('./parse.ts')).command],
  fleet: ['list the cluster\'s GPU nodes: condition, heartbeat, repair timing and budget', async () => (await import('./fleet.ts')).command],
  rules: ['validate a rule file, or explain the effective entry for a code', async () => (await import('./rules.ts')).command],
  demo: ['run the agent with a drill and show a GPU going bad', async () => (await import('./demo.ts')).command],
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  return [
    'usage: gpu-health-agent <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, [summary]]) => `  ${name.padEnd(width)}${summary}`),
    '',
    'Run `gpu-health-agent <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = commands[name];
  if (entry === undefined) {
    process.stderr.write(`gpu-health-agent: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  const command = await entry[1]();
  return command.run(rest);
}
