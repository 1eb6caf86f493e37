// A script run inside the image (`node --input-type=module -e`): imports every
// module of dist/agent, so a package the image lacks (a production dependency
// moved to devDependencies) or a file it lacks fails even where the run does
// not reach it (the log-file source's `tail`, a command's lazy import). The
// worker entry points refuse to run outside a worker thread once loaded: their
// imports resolved, which is what is checked.
export const IMPORT_ALL = `
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.js') ? [join(d, e.name)] : []);
const files = walk(process.argv[1]).filter((f) => !f.endsWith('/main.js'));
const failed = [];
for (const f of files) {
  try { await import(pathToFileURL(f).href); }
  catch (e) { if (!/must run in a worker thread/.test(String(e?.message))) failed.push(f + ': ' + (e?.code ?? '') + ' ' + e?.message); }
}
console.log(JSON.stringify({ modules: files.length, failed }));
process.exit(failed.length === 0 ? 0 : 1);
`;
