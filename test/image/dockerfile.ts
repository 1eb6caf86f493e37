// The Dockerfile's runtime stage as an image config (entrypoint, working
// directory, environment, user), and the check that everything the stage adds
// goes through image/assemble.sh, so the test's tree and the image cannot differ.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './layers.ts';

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  workdir: string;
  env: Record<string, string>;
  user: string;
  /** The stage's instructions, continuation lines joined, comments dropped. */
  instructions: Array<{ op: string; args: string }>;
}

function stages(text: string): Map<string, Array<{ op: string; args: string }>> {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const out = new Map<string, Array<{ op: string; args: string }>>();
  let current: Array<{ op: string; args: string }> | undefined;
  for (const line of logical) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') {
      const as = /\sAS\s+(\S+)\s*$/i.exec(m[2]!);
      current = [];
      out.set(as?.[1] ?? `stage${out.size}`, current);
    }
    current?.push({ op, args: m[2]! });
  }
  return out;
}

/** The runtime stage of the repository's Dockerfile, on top of `baseEnv` (the base image's ENV). */
export function runtimeConfig(baseEnv: Record<string, string>): ImageConfig {
  const stage = stages(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).get('runtime');
  if (stage === undefined) throw new Error('the Dockerfile has no stage named runtime');
  const config: ImageConfig = { entrypoint: [], cmd: [], workdir: '/', env: { ...baseEnv }, user: 'root', instructions: stage };
  for (const { op, args } of stage) {
    if (op === 'ENTRYPOINT') config.entrypoint = JSON.parse(args) as string[];
    else if (op === 'CMD') config.cmd = JSON.parse(args) as string[];
    else if (op === 'WORKDIR') config.workdir = args;
    else if (op === 'USER') config.user = args;
    else if (op === 'ENV') {
      const kv = /^(\w+)[= ](.*)$/.exec(args);
      if (kv === null) throw new Error(`ENV ${args}: one KEY=VALUE per ENV line, please`);
      config.env[kv[1]!] = kv[2]!.replace(/^"(.*)"$/, '$1');
    }
  }
  return config;
}
