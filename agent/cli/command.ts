// What every subcommand module exports as `command`; the dispatcher (index.ts) loads them lazily.
export interface Command {
  run(args: string[]): Promise<number>;
}
