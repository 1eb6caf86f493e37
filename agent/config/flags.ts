// Command-line flags into the config file's shape, so both go through one
// schema. Accepts `--flag value` and `--flag=value`; booleans take no value
// (or `=true` / `=false`).
import { OPTIONS, type OptionSpec } from './options.ts';

export type RawConfig = Record<string, unknown>;

export class UsageError extends Error {}

const BY_FLAG = new Map(OPTIONS.map((o) => [o.flag, o]));

export function parseFlags(argv: readonly string[]): RawConfig {
  const raw: RawConfig = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = BY_FLAG.get(name);
    if (spec === undefined) throw new UsageError(`unknown flag --${name}`);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (spec.kind === 'bool') {
      raw[spec.key] = parseBool(spec, value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    raw[spec.key] = convert(spec, value, raw[spec.key]);
  }
  return raw;
}

function parseBool(spec: OptionSpec, value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new UsageError(`--${spec.flag} takes no value, or =true / =false`);
}

function convert(spec: OptionSpec, value: string, previous: unknown): unknown {
  switch (spec.kind) {
    case 'list':
      return [...(Array.isArray(previous) ? previous : []), value];
    case 'int': {
      if (!/^\d+$/.test(value)) throw new UsageError(`--${spec.flag}: expected a whole number, got "${value}"`);
      return Number(value);
    }
    default:
      return value;
  }
}

export function flagHelp(): string {
  return OPTIONS.map((o) => `  --${o.flag}${o.kind === 'bool' ? '' : ' VALUE'}`.padEnd(28) + o.help).join('\n');
}
