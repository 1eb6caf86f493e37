// Imported first by main.ts, for its side effect. The agent relies on one V8
// flag, --max-semi-space-size=1: a 1 MiB young generation instead of one that
// grows to 8-16 MiB and stays resident after a burst of records (a log-file storm
// took RSS to 265 MiB without it, 110 MiB with it). The image's ENTRYPOINT and
// main.js's shebang pass it; `node dist/agent/main.js run` or any other launcher
// would not. V8 reads the flag only when it sets up the heap, so setting it from
// inside (v8.setFlagsFromString) has no effect; `run` instead replaces the
// process with itself plus the flag (execve: same pid, same descriptors, nothing
// started yet), before any other module's code has run.
export const SEMI_SPACE_FLAG = '--max-semi-space-size=1';
/** Set in the re-executed process, so a launcher that strips the flag cannot make a loop. */
export const REEXEC_ENV = 'GPU_HEALTH_AGENT_REEXEC';

/** The argv to re-execute with, or null when the flag is already in force (or the command is not `run`). */
export function reexecArgs(argv: readonly string[], execArgv: readonly string[], env: NodeJS.ProcessEnv): string[] | null {
  if (argv[2] !== 'run' || env[REEXEC_ENV] === '1') return null;
  const given = (args: readonly string[]): boolean => args.some((a) => a.startsWith('--max-semi-space-size'));
  if (given(execArgv) || given((env.NODE_OPTIONS ?? '').split(/\s+/))) return null;
  return [argv[0] as string, ...execArgv, SEMI_SPACE_FLAG, ...argv.slice(1)];
}

const args = reexecArgs(process.argv, process.execArgv, process.env);
if (args !== null && typeof process.execve === 'function') {
  process.execve(process.execPath, args, { ...process.env, [REEXEC_ENV]: '1' });
}
