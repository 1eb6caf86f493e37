// The agent's persisted state: the health snapshot, the kernel-log cursor and
// the condition as last decided, in one file so they can never disagree. A
// write goes to a temp file, is fsynced, then renamed over the old one, so a
// crash at any point leaves either the old or the new state, never half.
import { open, rename, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { readBoundedText } from '../config/read-bounded.ts';
import { errorText } from '../model/text.ts';

export const STATE_FILE = 'state.json';
const VERSION = 1;
/**
 * The most the agent reads back. Its own largest file is about 9 MB: 64 GPUs x 256
 * findings with 256-character details (health's caps; a unit test builds it),
 * read back at a peak of about 145 MiB resident. A file over this was not
 * written by the agent (a tampered 82 MB one took 381 MiB to load): it is set
 * aside unread, as a corrupt one is.
 */
export const MAX_STATE_FILE_BYTES = 16 * 1024 * 1024;

export const CursorSchema = z.object({ bootId: z.string(), seq: z.number().int().nonnegative() });
export type KmsgCursor = z.infer<typeof CursorSchema>;

/** Where a --log-file was read up to: bytes of complete lines of that inode. */
export const LogFilePositionSchema = z.object({ path: z.string(), ino: z.number().int().nonnegative(), offset: z.number().int().nonnegative() });
export type LogFilePosition = z.infer<typeof LogFilePositionSchema>;

const ConditionSchema = z.object({
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.number(),
});
export type { ConditionRecord } from '../model/verdict.ts';

const DocSchema = z.object({
  version: z.literal(VERSION),
  bootId: z.string(),
  savedAt: z.number(),
  /** Opaque to this module: health's toSnapshot() output. */
  health: z.unknown(),
  cursor: CursorSchema.nullable(),
  condition: ConditionSchema.nullable(),
  /** Absent in files written before log-file positions were kept. */
  logFiles: z.array(LogFilePositionSchema).optional(),
});
export type StateDoc = z.infer<typeof DocSchema>;

export interface LoadedState {
  doc: StateDoc | null;
  /** Why the file was not usable; the agent logs these and starts clean. */
  warnings: string[];
}

export async function readStateFile(dir: string): Promise<LoadedState> {
  const path = join(dir, STATE_FILE);
  const read = await readBoundedText(path, MAX_STATE_FILE_BYTES, 'the state file');
  if (!read.ok) {
    if (read.code === 'ENOENT') return { doc: null, warnings: [] };
    if (read.code !== 'EFBIG') return { doc: null, warnings: [`${path}: ${read.error}; starting clean`] };
    await keepCorrupt(path);
    return { doc: null, warnings: [`${path}: ${read.error}; kept as ${STATE_FILE}.corrupt, starting clean`] };
  }
  const text = read.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    await keepCorrupt(path);
    return { doc: null, warnings: [`${path} is not valid JSON (${errorText(err)}); kept as ${STATE_FILE}.corrupt, starting clean`] };
  }
  const parsed = DocSchema.safeParse(json);
  if (!parsed.success) {
    await keepCorrupt(path);
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join('.') ?? '';
    return { doc: null, warnings: [`${path} has an unexpected shape (${where}: ${issue?.message}); kept as ${STATE_FILE}.corrupt, starting clean`] };
  }
  return { doc: parsed.data, warnings: [] };
}

/** Keep the bad file for a person to look at, out of the way of the next write. */
async function keepCorrupt(path: string): Promise<void> {
  await rename(path, `${path}.corrupt`).catch(() => undefined);
}

export async function writeStateFile(dir: string, doc: Omit<StateDoc, 'version'>): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, STATE_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  const body = JSON.stringify({ version: VERSION, ...doc });
  try {
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(body);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (err) {
    // A half-written temp file (a full disk) would hold the space the next try needs.
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // The rename itself is durable only once the directory entry is on disk.
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
