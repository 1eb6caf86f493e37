// A logger for tests that keeps every line (and echoes warnings and errors
// when GHA_TEST_LOG is set), so a test can assert what the reporter said.
import type { KubeLogger } from '../../../agent/report/kube/log.ts';

export interface Line {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

export function captureLogger(): KubeLogger & { lines: Line[]; messages(msg: string): Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (obj: object, msg = ''): void => {
    lines.push({ level, msg, obj: obj as Record<string, unknown> });
    if (process.env.GHA_TEST_LOG !== undefined) process.stderr.write(`${level} ${msg} ${JSON.stringify(obj)}\n`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), messages: (msg) => lines.filter((l) => l.msg === msg) };
}
