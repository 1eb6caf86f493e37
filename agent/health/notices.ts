// Notices: what a person should hear about once. Repeats of one finding share
// a key, so reporters fold them into one Event series.
import { SOURCE_LABEL } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { Notice } from '../model/verdict.ts';
import { bounded } from '../model/text.ts';
import { findingLine, reasonOf } from './describe.ts';
import type { Finding, GpuHealth } from './types.ts';

export type ClearCause = 'reboot' | 'gpu-reset' | 'quiet' | 'operator' | 'rules' | 'drills-off' | 'recovered';

const NOTE_MAX = 1024;

function uuids(gpu: GpuHealth): string[] {
  return gpu.uuid === null ? [] : [gpu.uuid];
}

export function findingKey(gpu: GpuHealth, fid: string): string {
  return `${gpu.id}/${fid}`;
}

/** A new or repeated finding, or one that just escalated. */
export function findingNotice(gpu: GpuHealth, fid: string, f: Finding, what: 'new' | 'repeat' | 'escalated', at: number): Notice {
  const esc = f.entry.escalation;
  const why =
    what === 'escalated' && esc !== null
      ? ` Escalated: ${esc.count}${esc.distinct === 'process' ? ' distinct processes' : ' occurrences'} within ${Math.round(esc.windowMs / 1000)}s on the ${esc.scope}.`
      : '';
  const detail = f.detail === '' ? '' : ` Record: ${f.detail}`;
  const reason = reasonOf(f);
  return {
    type: 'Warning',
    reason,
    note: bounded(`${findingLine(gpu, f, reason)}. ${f.entry.description}${why}${detail}`, NOTE_MAX),
    key: what === 'escalated' ? `${findingKey(gpu, fid)}/escalated` : findingKey(gpu, fid),
    fold: what === 'escalated' ? `${fid}/escalated` : fid,
    at,
    drill: f.drill,
    gpuUuids: uuids(gpu),
  };
}

const CLEAR_TEXT: Record<ClearCause, string> = {
  reboot: 'the node rebooted (boot id changed)',
  'gpu-reset': "the driver's recovery action is back to None",
  quiet: 'no new occurrence within its quiet window',
  operator: 'an operator cleared it',
  rules: 'the rule table now ignores it',
  'drills-off': 'the agent restarted without --accept-drills, so drills are not evidence',
  recovered: 'the source that reported it says it is back to normal',
};

export function clearNotice(gpu: GpuHealth, fid: string, f: Finding, cause: ClearCause, at: number): Notice {
  return {
    type: 'Normal',
    reason: 'GPUFindingCleared',
    note: bounded(`Cleared because ${CLEAR_TEXT[cause]}: ${findingLine(gpu, f)}`, NOTE_MAX),
    key: `${findingKey(gpu, fid)}/cleared`,
    fold: `${fid}/cleared`,
    at,
    drill: f.drill,
    gpuUuids: uuids(gpu),
  };
}

export function sourceNotice(status: SourceStatus, up: boolean, at: number): Notice {
  const label = SOURCE_LABEL[status.source];
  return {
    type: up ? 'Normal' : 'Warning',
    reason: up ? 'GPUHealthSourceUp' : 'GPUHealthSourceDown',
    note: bounded(
      up
        ? `${label} is observing again.`
        : `${label} is ${status.state}: ${status.detail}. This is not GPU evidence; the condition does not change because of it.`,
      NOTE_MAX,
    ),
    key: `source/${status.source}`,
    at,
    drill: false,
    gpuUuids: [],
  };
}

