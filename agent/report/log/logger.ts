// The agent's one logger: pino, JSON lines on stdout.
//
// Synchronous writes: the agent logs little (a line per finding and per condition
// write, storms are coalesced upstream), and a line must not be lost when the
// process ends itself with SIGKILL past a native call stuck in a worker thread
// (runtime/exit.ts) or crashes.
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../../config/options.ts';

export type { Logger };

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { name: 'gpu-health-agent' }, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}
