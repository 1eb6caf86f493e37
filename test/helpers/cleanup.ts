// What an integration suite starts and must take down after it: agent
// processes, stand-in engines, scratch directories. Registered with node:test's
// after() at the call.
import { after } from 'node:test';
import { rmSync } from 'node:fs';
import type { AgentProcess } from './agent-process.ts';

export interface Cleanup {
  dirs: string[];
  agents: AgentProcess[];
  engines: Array<{ stop(): Promise<void> }>;
}

export function cleanupAfter(): Cleanup {
  const c: Cleanup = { dirs: [], agents: [], engines: [] };
  after(async () => {
    for (const a of c.agents) await a.kill();
    for (const e of c.engines) await e.stop();
    for (const d of c.dirs) rmSync(d, { recursive: true, force: true });
  });
  return c;
}
