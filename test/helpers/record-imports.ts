// Loaded with `node --import` (NODE_OPTIONS): appends the URL of every module the
// process resolves to $GHA_IMPORT_LOG, so a test can say what a command loaded.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const log = process.env.GHA_IMPORT_LOG;
if (log !== undefined && log !== '') {
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      appendFileSync(log, `${resolved.url}\n`);
      return resolved;
    },
  });
}
