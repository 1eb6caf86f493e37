// One PCI normaliser (model/pci.ts) serves the kernel parser, sysfs, DCGM/NVML
// and the health state, so one GPU has one id whichever source names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePci } from '../../agent/model/pci.ts';

test('every spelling of a PCI address normalises to dddd:bb:dd.f lowercase', () => {
  for (const [raw, want] of [
    // The kernel's: Xid with and without `PCI:`, no function, two-part (old drivers).
    ['PCI:0000:3b:00', '0000:3b:00.0'],
    ['PCI:0000:3B:00', '0000:3b:00.0'],
    ['0000:3b:00.1', '0000:3b:00.1'],
    ['3b:00', '0000:3b:00.0'],
    // DCGM's and NVML's: an 8-digit upper-case domain.
    ['00000000:3B:00.0', '0000:3b:00.0'],
    ['0000:86:00.0', '0000:86:00.0'],
    ['00000001:C1:1F.7', '0001:c1:1f.7'],
    ['3b:00.0', '0000:3b:00.0'],
    // A VMD domain above 0xffff stays itself: cut to 4 digits it would merge with 0000:3b:00.0.
    ['00010000:3B:00.0', '10000:3b:00.0'],
    ['10000:01:00.0', '10000:01:00.0'],
    // Already normal, as sources hand it to health.
    ['0000:3b:1f.7', '0000:3b:1f.7'],
  ] as const) {
    assert.equal(normalisePci(raw), want, raw);
  }
});

test('what is not a PCI address is null: absent, blank, redacted, out of range', () => {
  for (const bad of [
    null, undefined, '', 'PCI:', '<<<NOT_SUPPORTED>>>', 'XXXX:XX:XX', '<redacted>', 'zz:00',
    '0000:3b', '0000:3b:00:00', '0000:3b:20', '0000:3b:00.8',
    // Shaped like a normal address, but a device number has 5 bits.
    '0000:3b:20.0', '0000:00:3e.1',
  ]) {
    assert.equal(normalisePci(bad), null, String(bad));
  }
});
