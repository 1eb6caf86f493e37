// What the agent starts from: the state file read back (findings, the kmsg cursor,
// log-file positions, the condition), and whether to resume reading the kernel log
// after the cursor or read it again from its start. A corrupt file is a warning and
// a clean start, never a crash; a lossy restore reads the log again.
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/load.ts';
import type { ConditionRecord, Notice } from '../model/verdict.ts';
import { describeHealth, emptyHealth, fromSnapshot, type HealthState } from '../health/index.ts';
import type { RuleTable } from '../rules/types.ts';
import { readStateFile, type KmsgCursor, type LogFilePosition } from './state-file.ts';

export interface StartState {
  health: HealthState;
  condition: ConditionRecord | null;
  /** Notices of the restore (findings a reboot or drills-off cleared). */
  notices: Notice[];
  /** Where reading resumes; all empty when the kernel log is read from its start. */
  cursor: KmsgCursor | null;
  logFiles: LogFilePosition[];
  /** This boot was seen before and reading resumes: log files without a position are followed from their end. */
  resumed: boolean;
  /** When the state file was saved; null without one. */
  savedAt: number | null;
  /** The kernel log is read again from its start although there was a state file. */
  readAgain: boolean;
}

export async function readStartState(config: AgentConfig, bootId: string, rules: RuleTable, now: number, log: Logger): Promise<StartState> {
  const file = await readStateFile(config.stateDir);
  for (const w of file.warnings) log.warn({ stateDir: config.stateDir }, w);
  if (file.doc === null) return { health: emptyHealth(bootId), condition: null, notices: [], cursor: null, logFiles: [], resumed: false, savedAt: null, readAgain: false };
  const doc = file.doc;
  const restored = fromSnapshot(doc.health, bootId, rules, now, undefined, { acceptDrills: config.acceptDrills, savedAt: doc.savedAt });
  for (const w of restored.warnings) log.warn({ stateDir: config.stateDir }, w);
  const rebooted = doc.bootId !== bootId;
  const start: StartState = {
    health: restored.state,
    condition: doc.condition,
    notices: restored.notices,
    cursor: doc.cursor !== null && doc.cursor.bootId === bootId ? doc.cursor : null,
    logFiles: doc.logFiles ?? [],
    resumed: !rebooted,
    savedAt: doc.savedAt,
    readAgain: false,
  };
  // Findings lost in the restore: read the kernel log again rather than resume after their records.
  if (restored.replay) readAgain(start, doc.savedAt);
  log.info(
    { bootId, previousBootId: doc.bootId, rebooted, cursor: start.cursor, findings: describeHealth(start.health).totals },
    rebooted ? 'state restored after a reboot: findings that a reboot clears are gone' : 'state restored',
  );
  return start;
}

/**
 * Read the kernel log and the log files from their start, as on a first start; records
 * up to `savedAt` that a restored finding already counted are not counted again.
 */
export function readAgain(start: StartState, savedAt: number): void {
  start.cursor = null;
  start.logFiles = [];
  start.resumed = false;
  start.readAgain = true;
  start.health.replayUntil = savedAt;
}
