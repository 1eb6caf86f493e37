import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { riskyKernelSettings } from '../../agent/sources/kmsg/kernel-settings.ts';

test('kernel settings that let a process start a kernel record are reported when on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-procsys-'));
  try {
    mkdirSync(join(dir, 'kernel'));
    mkdirSync(join(dir, 'net/netfilter'), { recursive: true });
    writeFileSync(join(dir, 'kernel/print-fatal-signals'), '0\n');
    writeFileSync(join(dir, 'net/netfilter/nf_log_all_netns'), '0\n');
    assert.deepEqual(riskyKernelSettings(dir), []);
    writeFileSync(join(dir, 'kernel/print-fatal-signals'), '1\n');
    writeFileSync(join(dir, 'net/netfilter/nf_log_all_netns'), '1\n');
    assert.deepEqual(riskyKernelSettings(dir).map((s) => s.split(':')[0]), ['kernel.print-fatal-signals=1', 'net.netfilter.nf_log_all_netns=1']);
    // An unreadable or absent setting (no netfilter module) is not a finding.
    rmSync(join(dir, 'net'), { recursive: true });
    assert.equal(riskyKernelSettings(dir).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
