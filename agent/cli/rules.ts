// `gpu-health-agent rules validate [FILE]` and `rules explain <code> [--rules FILE]`:
// check a rule file before it goes into a ConfigMap, and see which entry a code
// gets and where that entry came from.
import type { Command } from './command.ts';
import { parseCodeSpec } from '../rules/classify.ts';
import { formatDuration as formatWindow } from '../model/duration.ts';
import { defaultsPath, loadDefaults, loadRuleFile } from '../rules/load.ts';
import { fillLevel, lookupEntry } from '../rules/table.ts';
import type { RuleEntry, RuleTable } from '../rules/types.ts';
import { errorText } from '../model/text.ts';

const USAGE = `usage:
  gpu-health-agent rules validate [FILE]            check FILE (an override of the defaults), or the defaults
  gpu-health-agent rules explain CODE [--rules FILE] print the effective entry for CODE and where it came from

CODE: 79 or xid:79, sxid:12, dcgm:14, dcgm:14/fail, dcgm:fail, counter:ecc-dbe-volatile,
      event:fallen-off-bus, event:device-count-mismatch, event:device-count-unconfirmed, event:pcie-aer-fatal, event:pcie-aer-nonfatal,
      event:pcie-aer-correctable, event:gpu-init-failed, event:gpu-unusable, recovery:2,
      fabric:manager/failure, fabric:route-unhealthy/true, fabric:incorrect-configuration/no-partition,
      or ladder (the repair ladder's settings)
`;

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function err(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** FILE merged onto the defaults, or the defaults alone; `defaults` marks a broken defaults file (a packaging bug). */
async function tableFor(file: string | undefined): Promise<{ table: RuleTable } | { errors: string[]; defaults?: true }> {
  try {
    if (file === undefined) return { table: loadDefaults() };
    const loaded = await loadRuleFile(file);
    return loaded.ok ? { table: loaded.table } : { errors: loaded.errors.map((e) => `${file}: ${e}`) };
  } catch (e) {
    return { errors: [`defaults: ${errorText(e)}`], defaults: true };
  }
}

async function validate(args: string[]): Promise<number> {
  if (args.length > 1) {
    err(USAGE);
    return 2;
  }
  const file = args[0];
  const loaded = await tableFor(file);
  if ('errors' in loaded) {
    for (const line of loaded.errors) err(line);
    if (loaded.defaults === undefined) err(`${file}: invalid (${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'})`);
    return 1;
  }
  const t = loaded.table;
  if (file === undefined) out(`${defaultsPath()}: ok, ${t.entries.size} entries (${t.apiVersion})`);
  else out(`${file}: ok, changes ${t.overridden.length} entr${t.overridden.length === 1 ? 'y' : 'ies'}${t.overridden.length > 0 ? `: ${t.overridden.join(', ')}` : ''}`);
  // Valid, so exit 0; but said where it cannot be missed.
  for (const r of t.risky) err(`${file ?? defaultsPath()}: RISKY: ${r.why}; a user's program can get a healthy node marked broken`);
  return 0;
}

/** The repair ladder as it applies to an entry that can be fatal. */
function ladderLine(table: RuleTable, e: RuleEntry): string[] {
  const canBeFatal = e.severity === 'fatal' || e.escalation?.severity === 'fatal';
  if (!canBeFatal) return [];
  const l = table.ladder;
  if (l.repairs === 0) return ['  ladder:      off (ladder.repairs 0)'];
  return [`  ladder:      back on the same GPU after ${l.repairs} reboot${l.repairs === 1 ? '' : 's'} that ended with it -> reason ${l.reason}, action REPLACE`];
}

function explainLadder(table: RuleTable): string {
  const l = table.ladder;
  const from = table.overridden.some((k) => k.startsWith('ladder.')) ? table.origin : 'defaults';
  return [
    'ladder',
    `  repairs:     ${l.repairs}${l.repairs === 0 ? ' (off)' : ` (the same fatal fault on the same GPU back after ${l.repairs} reboot${l.repairs === 1 ? '' : 's'} that ended with it)`}`,
    `  reason:      ${l.reason}${l.reason.includes('{reason}') ? ' ({reason} is the finding\'s own reason)' : ''}`,
    '  action:      REPLACE',
    `  from:        ${from}`,
    `table: ${table.origin}`,
  ].join('\n');
}

function describeEntry(e: RuleEntry): string[] {
  const esc = e.escalation;
  const lines = [
    `  severity:    ${e.severity}`,
    `  action:      ${e.action}`,
    `  reason:      ${fillLevel(e.reason, e.severity)}`,
    `  escalation:  ${
      esc === null
        ? 'none'
        : `${esc.count}${esc.distinct === 'process' ? ' distinct processes' : ''} within ${formatWindow(esc.windowMs)} per ${esc.scope} -> ${esc.severity}` +
          `, action ${esc.action ?? e.action}, reason ${fillLevel(esc.reason ?? e.reason, esc.severity)}`
    }`,
    `  clearOn:     ${e.clearOn.join(', ')}${e.quietMs !== null && e.clearOn.includes('quiet') ? ` (quiet window ${formatWindow(e.quietMs)})` : ''}`,
    `  description: ${e.description}`,
    `  from:        ${e.origin}`,
  ];
  return lines;
}

async function explain(args: string[]): Promise<number> {
  let file: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--rules') file = args[++i];
    else if (a.startsWith('--rules=')) file = a.slice('--rules='.length);
    else rest.push(a);
  }
  const wantsLadder = rest.length === 1 && rest[0] === 'ladder';
  const spec = rest[0] === undefined || rest.length > 1 || wantsLadder ? null : parseCodeSpec(rest[0]);
  if ((spec === null && !wantsLadder) || (args.includes('--rules') && file === undefined)) {
    err(rest[0] === undefined ? USAGE : `rules explain: cannot read code "${rest.join(' ')}"\n${USAGE}`);
    return 2;
  }
  const loaded = await tableFor(file);
  if ('errors' in loaded) {
    for (const line of loaded.errors) err(line);
    return 1;
  }
  const table = loaded.table;
  if (spec === null) {
    out(explainLadder(table));
    return 0;
  }
  const found = lookupEntry(table, spec.family, spec.code, spec.variant);
  const lines = [`${spec.family}:${spec.code}${spec.variant !== null && spec.variant !== spec.code ? `/${spec.variant}` : ''}`];
  lines.push(`  entry:       ${found.unknown ? `${found.matched} (no entry names this code)` : found.matched}`);
  lines.push(...describeEntry(found.entry));
  const risky = table.risky.find((r) => r.key === found.matched);
  if (risky !== undefined) lines.push(`  RISKY:       ${risky.why}`);
  lines.push(...ladderLine(table, found.entry));
  const same = found.entry.sameAs;
  if (same !== null) {
    if (same === 'xid:message') {
      lines.push('  counted as:  the Xid named in the DCGM incident message (explain that Xid); without one, the result-level entry');
    } else {
      const target = parseCodeSpec(same);
      if (target !== null) {
        const t = lookupEntry(table, target.family, target.code, target.variant);
        lines.push(`  counted as:  ${same}, so the kernel's and DCGM's report of one fault count once; that entry decides:`);
        lines.push(...describeEntry(t.entry).map((l) => `  ${l}`));
      }
    }
  }
  lines.push(`table: ${table.origin}`);
  out(lines.join('\n'));
  return 0;
}

export const command: Command = {
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === 'validate') return validate(rest);
    if (sub === 'explain') return explain(rest);
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      out(USAGE);
      return 0;
    }
    err(USAGE);
    return 2;
  },
};
