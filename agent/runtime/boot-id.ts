// The boot id keys persisted state: a different id means the node rebooted,
// so findings that a reboot clears are dropped and the kmsg cursor is stale.
import { readFile } from 'node:fs/promises';

export async function readBootId(path: string): Promise<string> {
  const id = (await readFile(path, 'utf8')).trim();
  if (id === '') throw new Error(`${path} is empty`);
  return id;
}
