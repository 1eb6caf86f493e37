// One PCI normaliser serves the kernel parser, DCGM/NVML and the health state,
// so one GPU has one id whichever source names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePci } from '../../agent/parse/pci.ts';
import { normalizePciBusId } from '../../agent/sources/gpu/pci.ts';
import { normalizePci } from '../../agent/health/identity.ts';

test('kernel, DCGM/NVML and health spellings of one GPU agree', () => {
  for (const [raw, want] of [
    ['PCI:0000:3b:00', '0000:3b:00.0'],
    ['00000000:3B:00.0', '0000:3b:00.0'],
    ['3b:00.0', '0000:3b:00.0'],
    // A VMD domain above 0xffff stays itself: cut to 4 digits it would merge with 0000:3b:00.0.
    ['00010000:3B:00.0', '10000:3b:00.0'],
    ['<<<NOT_SUPPORTED>>>', null],
    ['XXXX:XX:XX', null],
  ] as const) {
    assert.equal(normalisePci(raw), want, raw);
    assert.equal(normalizePciBusId(raw), want, raw);
    assert.equal(normalizePci(raw), want, raw);
  }
});
