// The one log capture for tests: a logger that keeps every line (and echoes warnings and errors
// when GHA_TEST_LOG is set), so a test can assert what the reporter said.
import type { KubeLogger } from '../../agent/report/kube/log.ts';

export interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

/** `onLine`: hears each line as it is logged (tests that count calls as they happen). */
export function captureLogger(onLine?: (line: Line) => void): KubeLogger & { lines: Line[]; messages(msg: string): Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (obj: object, msg = ''): void => {
    const line = { level, msg, obj: obj as Record<string, unknown> };
    lines.push(line);
    onLine?.(line);
    if (process.env.GHA_TEST_LOG !== undefined) process.stderr.write(`${level} ${msg} ${JSON.stringify(obj)}\n`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), messages: (msg) => lines.filter((l) => l.msg === msg) };
}
