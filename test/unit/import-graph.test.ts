// The rooms of agent/ and which may import which: no cycle between folders, and
// the pure middle imports no edge. A new import that closes a cycle fails here,
// naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const AGENT = resolve(import.meta.dirname, '../../agent');
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The room a file belongs to: its folder under agent/, where sources/ and report/ hold one room per subfolder. */
function roomOf(file: string): string {
  const parts = relative(AGENT, file).split('/');
  if (parts.length === 1) return '(root)';
  const top = parts[0] ?? '';
  return (top === 'sources' || top === 'report') && parts.length > 2 ? `${top}/${parts[1]}` : top;
}

function graph(): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const f of files(AGENT)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? '';
      if (!spec.startsWith('.')) continue;
      const from = roomOf(f);
      const to = roomOf(resolve(dirname(f), spec));
      if (from === to) continue;
      const out = edges.get(from) ?? new Map<string, string>();
      if (!out.has(to)) out.set(to, `${relative(AGENT, f)} -> ${spec}`);
      edges.set(from, out);
    }
  }
  return edges;
}

function cycles(edges: Map<string, Map<string, string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const m of edges.get(n)?.keys() ?? []) {
      if (state.get(m) === 'open') found.push([...path.slice(path.indexOf(m)), m]);
      else if (state.get(m) === undefined) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of [...edges.keys()].sort()) if (state.get(n) === undefined) visit(n);
  return found;
}

test('no import cycle between the rooms of agent/', () => {
  const edges = graph();
  const found = cycles(edges);
  const explain = found.map((c) => c.map((n, i) => (i === 0 ? n : `${n} (${edges.get(c[i - 1] ?? '')?.get(n) ?? '?'})`)).join(' -> '));
  assert.deepEqual(explain, []);
});

test('the pure middle imports no edge: model, parse, rules, health and the decision core', () => {
  const edges = graph();
  const edgeRooms = (r: string): boolean => r.startsWith('sources') || r.startsWith('report') || r === 'cli' || r === '(root)';
  for (const room of ['model', 'parse', 'rules', 'health']) {
    const bad = [...(edges.get(room)?.entries() ?? [])].filter(([to]) => edgeRooms(to) || to === 'runtime');
    assert.deepEqual(bad, [], `${room} imports an edge`);
  }
  const core = readFileSync(join(AGENT, 'runtime/core.ts'), 'utf8');
  const coreImports = [...core.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? '');
  assert.deepEqual(coreImports.filter((s) => !/^\.\.\/(model|health|rules)\//.test(s)), [], 'runtime/core.ts imports only model, health and rules');
  assert.doesNotMatch(core, /Date\.now|setTimeout|setInterval|process\.|from 'node:/, 'runtime/core.ts reads no clock and does no I/O');
});
