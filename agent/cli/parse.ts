import type { Command } from './index.ts';

export const command: Command = {
  summary: 'print one JSON object per recognised NVIDIA kernel-log record',
  async run() {
    process.stderr.write('parse: not implemented yet\n');
    return 1;
  },
};
