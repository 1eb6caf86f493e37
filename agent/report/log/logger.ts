// The agent's one logger: pino, JSON lines on stdout.
import { pino, type Logger } from 'pino';
import type { LogLevel } from '../../config/options.ts';

export type { Logger };

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { name: 'gpu-health-agent' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination === undefined ? pino(options) : pino(options, destination);
}
