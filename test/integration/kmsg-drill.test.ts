// The real /dev/kmsg (we run as root): drills written with the user facility
// are read back through the real reader; cursor resume; the facility filter;
// an overrun that the kernel reports with EPIPE is counted and survived.
// /dev/kmsg is shared by the machine and other tests: every record we write
// carries this run's id and we only match our own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Observation } from '../../agent/model/evidence.ts';
import type { KmsgRecord } from '../../agent/parse/kmsg-record.ts';
import { DRILL_TAG } from '../../agent/parse/drill-marker.ts';
import { formatDrill, writeDrill } from '../../agent/sources/kmsg/drill.ts';
import { KmsgReader, readBootId } from '../../agent/sources/kmsg/reader.ts';
import { KmsgSource } from '../../agent/sources/kmsg/source.ts';
import { until as untilWithin } from '../helpers/wait.ts';

/** The ring is shared and busy: 10 s for this file's waits. */
const until = (cond: () => boolean, what: string, ms = 10_000): Promise<void> => untilWithin(cond, what, ms);

const KMSG = '/dev/kmsg';
const RUN = crypto.randomBytes(6).toString('hex');
function mine(raw: KmsgRecord): boolean {
  return raw.text.includes(RUN);
}

test('the real /dev/kmsg is there and writable (no skipping: this suite needs it)', () => {
  fs.accessSync(KMSG, fs.constants.R_OK | fs.constants.W_OK);
});

test('drills round-trip through the real reader, labelled; facility filter drops untagged user records', async () => {
  const seen: Observation[] = [];
  const src = new KmsgSource({ acceptDrills: true, onObservation: (o, _r, raw) => { if (mine(raw)) seen.push(o); } });
  src.start();
  try {
    await src.whenCaughtUp();
    assert.equal(src.status().state, 'up');
    assert.equal(src.status().caughtUp, true);
    const before = src.stats.rejected['not-kernel'];
    writeDrill(KMSG, formatDrill({ xid: 79, pci: '0000:3b:00.0', text: `run=${RUN} GPU has fallen off the bus.` }));
    writeDrill(KMSG, formatDrill({ sxid: 24007, fatal: true, link: 30, switchIndex: 1, pci: '0000:c3:00.0', text: `run=${RUN}` }));
    writeDrill(KMSG, formatDrill({ xid: 154, pci: '0000:3b:00.0', text: `GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required) run=${RUN}` }));
    writeDrill(KMSG, formatDrill({ fallenOffBus: true, pci: '0000:b3:00.0', text: `run=${RUN}` }));
    // NVRM-looking, user facility, no drill tag: never evidence.
    writeDrill(KMSG, `<12>NVRM: Xid (PCI:0000:3b:00): 48, run=${RUN} forged`);
    await until(() => seen.length === 4, 'four drills');
    await until(() => src.stats.rejected['not-kernel'] > before, 'untagged user record dropped');
    assert.ok(seen.every((o) => o.drill && o.source === 'kmsg'));
    assert.deepEqual(seen.map((o) => o.evidence.kind), ['xid', 'sxid', 'recovery-action', 'fallen-off-bus']);
    const x = seen[0]?.evidence;
    assert.ok(x?.kind === 'xid' && x.code === 79 && x.gpu.pci === '0000:3b:00.0');
    const s = seen[1]?.evidence;
    assert.ok(s?.kind === 'sxid' && s.fatal === true && s.link === 30 && s.switchIndex === 1);
    const ra = seen[2]?.evidence;
    assert.ok(ra?.kind === 'recovery-action' && ra.to.code === 2 && ra.to.name === 'Node Reboot Required');
    // `at` is the kernel's timestamp turned into wall time: within seconds of now.
    assert.ok(Math.abs((seen[0]?.at ?? 0) - Date.now()) < 5000, `at ${seen[0]?.at}`);
  } finally {
    await src.stop();
  }

  // Without --accept-drills the same records (replayed from the ring buffer) are not evidence.
  const strict: Observation[] = [];
  const off = new KmsgSource({ acceptDrills: false, onObservation: (o, _r, raw) => { if (mine(raw)) strict.push(o); } });
  off.start();
  try {
    await off.whenCaughtUp();
    assert.deepEqual(strict, []);
    assert.ok(off.stats.drillsIgnored >= 4, `drills ignored: ${off.stats.drillsIgnored}`);
  } finally {
    await off.stop();
  }
});

test('cursor: a restarted reader neither replays nor forgets; another boot id ignores it', async () => {
  const texts = (recs: KmsgRecord[]): string[] => recs.map((r) => r.text).filter((t) => t.includes(RUN) && t.includes('cursor'));
  const got1: string[] = [];
  const a = new KmsgReader({ onRecords: (rs) => got1.push(...texts(rs)) });
  a.start();
  await a.whenCaughtUp();
  writeDrill(KMSG, `<12>${DRILL_TAG}: cursor one run=${RUN}`);
  await until(() => got1.length === 1, 'first record');
  const cursor = a.cursor();
  await a.stop();
  assert.ok(cursor !== null);
  assert.equal(cursor.bootId, readBootId());

  // Written while "the agent was down".
  writeDrill(KMSG, `<12>${DRILL_TAG}: cursor two run=${RUN}`);

  const got2: string[] = [];
  let firstSeq: number | null = null;
  const b = new KmsgReader({
    cursor,
    onRecords: (rs) => {
      firstSeq ??= rs[0]?.seq ?? null;
      got2.push(...texts(rs));
    },
  });
  b.start();
  await b.whenCaughtUp();
  await b.stop();
  assert.deepEqual(got2, [`${DRILL_TAG}: cursor two run=${RUN}`]);
  assert.ok(firstSeq !== null && firstSeq > cursor.seq);
  assert.ok((b.cursor()?.seq ?? 0) > cursor.seq);

  // Same seq under an injected boot id that is not this boot's: the cursor is ignored, all replayed.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-kmsg-'));
  const bootIdPath = path.join(dir, 'boot_id');
  fs.writeFileSync(bootIdPath, 'another-boot\n');
  const got3: string[] = [];
  const c = new KmsgReader({ cursor, bootIdPath, onRecords: (rs) => got3.push(...texts(rs)) });
  c.start();
  await c.whenCaughtUp();
  await c.stop();
  assert.deepEqual(got3, [`${DRILL_TAG}: cursor one run=${RUN}`, `${DRILL_TAG}: cursor two run=${RUN}`]);
  fs.rmSync(dir, { recursive: true });
});

/** Write n ~1000-byte records at debug level (never echoed to a console), ≤ 10 per open (the kernel's per-open rate limit). */
function flood(n: number, tag: string): void {
  const pad = 'x'.repeat(900);
  for (let i = 0; i < n; i += 10) {
    const fd = fs.openSync(KMSG, 'w');
    try {
      for (let j = i; j < Math.min(n, i + 10); j++) fs.writeSync(fd, `<15>${DRILL_TAG}: flood ${tag} ${j} ${pad}\n`);
    } finally {
      fs.closeSync(fd);
    }
  }
}

test('overrun: the kernel overwrites what a stalled reader has not read; the loss is counted and reading goes on', async (t) => {
  const seqs: number[] = [];
  let afterSeen = false;
  const r = new KmsgReader({
    batchMax: 32,
    onRecords: (rs) => {
      for (const rec of rs) {
        seqs.push(rec.seq);
        if (rec.text.includes(`after-flood run=${RUN}`)) afterSeen = true;
      }
    },
  });
  r.start();
  try {
    await r.whenCaughtUp();
    // Flooding synchronously blocks this thread, which is also the reader's, so nothing is
    // read while it lasts: the kernel's ring buffer wraps under it. Grow the flood until
    // the kernel reports an overrun (ring sizes differ between machines).
    let written = 0;
    for (let n = 4096; r.liveness().overruns === 0; n *= 2) {
      assert.ok(n <= 131072, `no overrun even after 128 MiB written: ${JSON.stringify(r.liveness())} ${seqs.length}`);
      flood(n, RUN);
      written += n;
      // The flood blocked this thread; only now can the reader go on. Wait until
      // records read after the flood came in and the reader has gone quiet again.
      const floodEnd = Date.now();
      await until(() => {
        const l = r.liveness();
        return l.caughtUp && (l.lastReadAt ?? 0) >= floodEnd && Date.now() - (l.lastReadAt ?? 0) > 100;
      }, 'reader drained', 30_000);
    }
    writeDrill(KMSG, `<12>${DRILL_TAG}: after-flood run=${RUN}`);
    await until(() => afterSeen, 'record after the overrun');
    const l = r.liveness();
    assert.equal(l.alive, true, 'reader survived');
    assert.ok(l.overruns > 0);
    assert.ok(l.lostCount > 0);
    // Every seq from the first delivered to the last is either delivered or counted lost.
    const first = seqs[0] ?? 0;
    const last = seqs.at(-1) ?? 0;
    assert.equal(new Set(seqs).size, seqs.length, 'no record delivered twice');
    assert.equal(l.lostCount, last - first + 1 - seqs.length);
    assert.equal(l.recordsRead, seqs.length);
    t.diagnostic(`flood ${written} records of ~1 KB; delivered ${seqs.length}, lost ${l.lostCount}, EPIPE ${l.overruns}`);
  } finally {
    await r.stop();
  }
});
