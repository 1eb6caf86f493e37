// Reading rule documents: the shipped defaults (a data file next to this module,
// found from both agent/rules/*.ts and the built dist/agent/rules/*.js) and one
// user override file merged onto them.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lexer, parse, YAMLParseError } from 'yaml';
import { formatBytes, readBoundedText } from '../config/read-bounded.ts';
import { validateRuleDocument } from './schema.ts';
import type { RuleDocument, Validated } from './schema.ts';
import { buildTable } from './table.ts';
import type { RuleTable } from './types.ts';
import { errorText } from '../model/text.ts';

export type RuleLoadResult = { ok: true; table: RuleTable } | { ok: false; error: string; errors: string[] };

/**
 * Overrides are a few KB. yaml's document model costs about 600 bytes a node, so a
 * dense file (a flow list of small ints) costs some 300 times its size to parse: a
 * ConfigMap-legal 1 MB file needs 600 MiB. Both bounds are checked before that cost:
 * the size before reading, the tokens (a lexer pass, which keeps nothing) before
 * parsing. 20,000 tokens are about 10 MiB of parsing, and over four times the
 * shipped defaults (defaults.yaml: about 6,000).
 */
export const MAX_RULE_FILE_BYTES = 256 * 1024;
export const MAX_RULE_TOKENS = 25_000;

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
  if (text.length > MAX_RULE_FILE_BYTES) return { ok: false, errors: [`(document): ${text.length} characters, over the ${formatBytes(MAX_RULE_FILE_BYTES)} limit for a rule file`] };
  let tokens = 0;
  for (const _ of new Lexer().lex(text)) {
    if (++tokens > MAX_RULE_TOKENS) return { ok: false, errors: [`(document): over ${MAX_RULE_TOKENS} YAML tokens, too large for a rule file (overrides are a few KB); not parsed`] };
  }
  let raw: unknown;
  try {
    // maxAliasCount: yaml's own bound on alias expansion (billion laughs), stated rather than assumed.
    raw = parse(text, { merge: true, uniqueKeys: true, prettyErrors: true, maxAliasCount: 100 });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] : errorText(err);
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

/** A rule file's text; one over MAX_RULE_FILE_BYTES (or not a regular file) is refused before it is read. */
export async function readRuleText(path: string): Promise<{ ok: true; text: string } | { ok: false; error: string }> {
  return readBoundedText(path, MAX_RULE_FILE_BYTES, 'a rule file (overrides are a few KB)');
}

/** Reads and checks an override file. Never throws: an unreadable, oversized or invalid file is an error result. */
export async function loadRuleFile(path: string): Promise<RuleLoadResult> {
  const read = await readRuleText(path);
  if (!read.ok) return { ok: false, errors: [read.error], error: `${path}: ${read.error}` };
  return tableFromText(read.text, path);
}
