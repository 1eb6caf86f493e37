// The rule file arrives as a mounted ConfigMap: rules.yaml -> ..data/rules.yaml,
// ..data -> ..<timestamp>/. The kubelet updates it by writing a new timestamped
// directory and renaming a fresh `..data` symlink over the old one. This test does
// exactly that on the real filesystem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watchRuleFile } from '../../agent/rules/watch.ts';
import type { RuleTable } from '../../agent/rules/types.ts';
import { configMap as sharedConfigMap, type ConfigMapDir } from '../helpers/configmap.ts';

const V1 = 'apiVersion: gpu-health-agent/v1\n';

function configMap(): ConfigMapDir {
  return sharedConfigMap(`${V1}xid:\n  43: {severity: info}\n`);
}

function waitFor<T>(get: () => T | undefined, ms: number): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      const v = get();
      if (v !== undefined) resolve(v);
      else if (Date.now() - start > ms) reject(new Error(`nothing within ${ms} ms`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

/** Counts the watcher's looks at the file; `after(n)` resolves once it has looked n more times. */
function looks(): { onChecked: () => void; after: (n: number) => Promise<void> } {
  let count = 0;
  const waiting: Array<{ at: number; resolve: () => void }> = [];
  return {
    onChecked() {
      count++;
      for (const w of waiting.filter((x) => x.at <= count)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    },
    after: (n) => new Promise((resolve) => waiting.push({ at: count + n, resolve })),
  };
}

test('a ConfigMap symlink swap is applied within seconds; an invalid one is refused and the next good one applies', async () => {
  const cm = configMap();
  const tables: RuleTable[] = [];
  const errors: string[] = [];
  const seen = looks();
  const w = watchRuleFile(cm.file, (t) => tables.push(t), (e) => errors.push(e), { intervalMs: 200, onChecked: seen.onChecked });
  try {
    await seen.after(2);
    assert.equal(tables.length, 0, 'nothing changed yet: no callback');

    const t0 = Date.now();
    cm.swap(`${V1}xid:\n  43: {severity: fatal}\n`);
    const t = await waitFor(() => tables[0], 3000);
    assert.ok(Date.now() - t0 < 2000, 'applied within two seconds');
    assert.equal(t.entries.get('xid:43')?.severity, 'fatal');
    assert.equal(t.entries.get('xid:43')?.origin, cm.file);

    cm.swap(`${V1}xid:\n  43: {severity: fatl}\n`);
    const err = await waitFor(() => errors[0], 3000);
    assert.equal(err, `${cm.file}: xid.43.severity: expected one of fatal|warning|info|ignore`);
    await seen.after(2);
    assert.equal(errors.length, 1, 'an invalid file is reported once, not on every poll');
    assert.equal(tables.length, 1);

    cm.swap(`${V1}xid:\n  43: {severity: warning}\n`);
    const t2 = await waitFor(() => tables[1], 3000);
    assert.equal(t2.entries.get('xid:43')?.severity, 'warning');

    // A swap to identical content is silent.
    cm.swap(`${V1}xid:\n  43: {severity: warning}\n`);
    await seen.after(2);
    assert.equal(tables.length, 2);
  } finally {
    w.close();
    cm.dispose();
  }
});

test('emitInitial delivers the current table at once; a vanished file is an error', async () => {
  const cm = configMap();
  const tables: RuleTable[] = [];
  const errors: string[] = [];
  const w = watchRuleFile(cm.file, (t) => tables.push(t), (e) => errors.push(e), { intervalMs: 100, emitInitial: true });
  try {
    const t = await waitFor(() => tables[0], 2000);
    assert.equal(t.entries.get('xid:43')?.severity, 'info');
    cm.dispose();
    const e = await waitFor(() => errors[0], 2000);
    assert.match(e, /cannot read: ENOENT/);
  } finally {
    w.close();
  }
});
