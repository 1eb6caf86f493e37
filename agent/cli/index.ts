// Command dispatcher. Each command lives in its own module and is loaded lazily
// so `parse` does not pay for the Kubernetes client or native bindings.
export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, () => Promise<Command>> = {
  parse: async () => (await import('./parse.ts')).command,
  rules: async () => (await import('./rules.ts')).command,
  run: async () => (await import('./run.ts')).command,
  status: async () => (await import('./status.ts')).command,
  clear: async () => (await import('./clear.ts')).command,
  drill: async () => (await import('./drill.ts')).command,
  demo: async () => (await import('./demo.ts')).command,
};

function usage(): string {
  return [
    'usage: gpu-health-agent <command> [options]',
    '',
    'commands:',
    ...Object.keys(commands).map((name) => `  ${name}`),
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
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(`gpu-health-agent: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  const command = await load();
  return command.run(rest);
}
