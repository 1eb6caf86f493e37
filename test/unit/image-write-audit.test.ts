// The image test's write audit reads strace logs: writes are found whatever
// their form (flags, *at with a directory fd, renames, unix-socket binds,
// refused with EROFS), reads are not, and only paths outside the allowed ones
// are reported.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileWrites, forbiddenWrites } from '../image/write-audit.ts';

const ROOT = '/tmp/gha-image-x/root';

test('image write audit: writes of every form, relative to the working directory or a directory fd; reads ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gha-audit-'));
  try {
    writeFileSync(join(dir, 'agent.7'), [
      `openat(AT_FDCWD</tmp/gha-image-x/root/app>, "/app/dist/agent/main.js", O_RDONLY|O_CLOEXEC) = 21</tmp/gha-image-x/root/app/dist/agent/main.js>`,
      `openat(AT_FDCWD</tmp/gha-image-x/root/app>, "/tmp/scratch, with \\"quotes\\"", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = -1 EROFS (Read-only file system)`,
      `openat(AT_FDCWD, "state.json.tmp", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 22</x>`,
      `mkdirat(23</tmp/gha-image-x/root/var/lib/gpu-health-agent>, "sub", 0700) = 0`,
      `renameat2(AT_FDCWD, "/var/lib/gpu-health-agent/a.tmp", AT_FDCWD, "/var/lib/gpu-health-agent/a", RENAME_NOREPLACE) = 0`,
      `bind(24<socket:[1]>, {sa_family=AF_UNIX, sun_path="/var/lib/gpu-health-agent/control.sock"}, 110) = 0`,
      `unlink("/etc/passwd") = -1 EROFS (Read-only file system)`,
      `utimensat(5</x>, NULL, NULL, 0) = 0`,
      `+++ exited with 0 +++`,
    ].join('\n'));
    const writes = fileWrites(dir, ROOT, '/app');
    assert.deepEqual(writes.map((w) => `${w.syscall} ${w.path}`), [
      'openat /tmp/scratch, with "quotes"',
      'openat /app/state.json.tmp',
      'mkdirat /var/lib/gpu-health-agent/sub',
      'renameat2 /var/lib/gpu-health-agent/a.tmp',
      'renameat2 /var/lib/gpu-health-agent/a',
      'bind /var/lib/gpu-health-agent/control.sock',
      'unlink /etc/passwd',
    ]);
    assert.equal(writes[0]!.process, 'agent');
    assert.match(writes[0]!.result, /EROFS/);
    assert.deepEqual(forbiddenWrites(writes, ['/var/lib/gpu-health-agent', '/dev/kmsg']).map((w) => w.path), ['/tmp/scratch, with "quotes"', '/app/state.json.tmp', '/etc/passwd']);
    assert.deepEqual(forbiddenWrites([{ process: 'p', syscall: 'open', path: '/var/lib/gpu-health-agent-x', result: '0' }], ['/var/lib/gpu-health-agent']).length, 1, 'a prefix of a name is not the directory');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
