// Rule files are bounded before they cost memory: by size before they are read,
// by YAML tokens before they are parsed. Real files on the real filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultsPath, loadRuleFile, MAX_RULE_FILE_BYTES, MAX_RULE_TOKENS, tableFromText } from '../../agent/rules/load.ts';
import { paddedRuleFile, RULES_V1 } from '../helpers/big-files.ts';
import { Lexer } from 'yaml';

function scratchDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), 'rules-limits-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a rule file over 256 KiB is refused from its size, before it is read', async () => {
  using s = scratchDir();
  const file = join(s.dir, 'big.yaml');
  paddedRuleFile(file, 1_000_000);
  const r = await loadRuleFile(file);
  assert.ok(!r.ok, 'refused');
  assert.match(r.error, /big\.yaml: \d+ bytes, over the 256 KiB limit for a rule file \(overrides are a few KB\); not read$/);
});

test('a dense rule file under the size bound is refused by its YAML token count, before it is parsed', async () => {
  using s = scratchDir();
  const file = join(s.dir, 'dense.yaml');
  paddedRuleFile(file, 200_000);
  const r = await loadRuleFile(file);
  assert.ok(!r.ok, 'refused');
  assert.match(r.error, new RegExp(`over ${MAX_RULE_TOKENS} YAML tokens, too large for a rule file`));
  // The same override with a modest pad still loads: the bounds are not a ban on comments or padding.
  paddedRuleFile(file, 8_000);
  const ok = await loadRuleFile(file);
  assert.ok(ok.ok, ok.ok ? '' : ok.error);
  assert.equal(ok.table.entries.get('xid:43')?.severity, 'info');
});

test('a FIFO in the rule file\'s place is refused at once, not waited on', async () => {
  using s = scratchDir();
  const fifo = join(s.dir, 'rules.yaml');
  execFileSync('mkfifo', [fifo]);
  const r = await loadRuleFile(fifo);
  assert.ok(!r.ok);
  assert.match(r.error, /rules\.yaml: not a regular file; not read/);
});

test('the shipped defaults sit well inside both bounds', () => {
  const text = readFileSync(defaultsPath(), 'utf8');
  let tokens = 0;
  for (const _ of new Lexer().lex(text)) tokens++;
  assert.ok(Buffer.byteLength(text) * 4 < MAX_RULE_FILE_BYTES, `defaults: ${Buffer.byteLength(text)} bytes`);
  assert.ok(tokens * 4 < MAX_RULE_TOKENS, `defaults: ${tokens} tokens`);
  // An override that copies the whole defaults table is accepted.
  assert.ok(tableFromText(text.replace('kind: RuleTable\n', ''), 'copy.yaml').ok);
  assert.ok(tableFromText(`${RULES_V1}xid:\n  43: {severity: info}\n`, 'small.yaml').ok);
});

test('text handed straight to tableFromText is bounded too', () => {
  const r = tableFromText(`${RULES_V1}# ${'x'.repeat(MAX_RULE_FILE_BYTES)}\n`, 'huge.yaml');
  assert.ok(!r.ok);
  assert.match(r.error, /over the 256 KiB limit for a rule file/);
});
