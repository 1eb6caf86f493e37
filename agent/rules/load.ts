// Reading rule documents: the shipped defaults (a data file next to this module,
// found from both agent/rules/*.ts and the built dist/agent/rules/*.js) and one
// user override file merged onto them.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse, YAMLParseError } from 'yaml';
import { validateRuleDocument } from './schema.ts';
import type { RuleDocument, Validated } from './schema.ts';
import { buildTable } from './table.ts';
import type { RuleTable } from './types.ts';

export type RuleLoadResult = { ok: true; table: RuleTable } | { ok: false; error: string; errors: string[] };

/**
 * Where defaults.yaml lies: beside the source module, or, from dist/agent/rules/,
 * three levels up in the package (package.json "files" ships agent/rules/defaults.yaml).
 */
export function defaultsPath(): string {
  const candidates = [new URL('./defaults.yaml', import.meta.url), new URL('../../../agent/rules/defaults.yaml', import.meta.url)];
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  throw new Error(`rule defaults not found; looked at ${candidates.map((u) => fileURLToPath(u)).join(', ')}`);
}

/** YAML text -> a checked document. Errors read `LINE:COL ...` for syntax and `a.b.c: ...` for content. */
export function parseRuleText(text: string): Validated<RuleDocument> {
  let raw: unknown;
  try {
    raw = parse(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] : (err as Error).message;
    return { ok: false, errors: [`(yaml): ${msg}`] };
  }
  if (raw === null || raw === undefined) return { ok: false, errors: ['(document): empty; expected apiVersion and rule entries'] };
  return validateRuleDocument(raw);
}

let defaultsDoc: RuleDocument | null = null;

/** The shipped defaults, parsed once; a broken defaults file is a packaging bug and throws. */
export function defaultsDocument(): RuleDocument {
  if (defaultsDoc !== null) return defaultsDoc;
  const path = defaultsPath();
  const parsed = parseRuleText(readFileSync(path, 'utf8'));
  if (!parsed.ok) throw new Error(`${path}: ${parsed.errors.join('; ')}`);
  defaultsDoc = parsed.value;
  return defaultsDoc;
}

export function loadDefaults(): RuleTable {
  const built = buildTable(defaultsDocument(), null, null);
  if (!built.ok) throw new Error(`${defaultsPath()}: ${built.errors.join('; ')}`);
  return built.value;
}

/** An override document's text merged onto the defaults; `origin` names it in errors and in `rules explain`. */
export function tableFromText(text: string, origin: string): RuleLoadResult {
  const parsed = parseRuleText(text);
  const built = parsed.ok ? buildTable(defaultsDocument(), parsed.value, origin) : parsed;
  if (!built.ok) return { ok: false, errors: built.errors, error: `${origin}: ${built.errors.join('; ')}` };
  return { ok: true, table: built.value };
}

/** Reads and checks an override file. Never throws: an unreadable or invalid file is an error result. */
export async function loadRuleFile(path: string): Promise<RuleLoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const msg = `cannot read: ${(err as Error).message}`;
    return { ok: false, errors: [msg], error: `${path}: ${msg}` };
  }
  return tableFromText(text, path);
}
