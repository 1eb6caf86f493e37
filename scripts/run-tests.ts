// Runs every test suite with Node's own test runner. No suite is optional:
// a suite whose real component (kernel log, API server, native stand-in) is
// missing fails here, it is never skipped.
import { spawnSync } from 'node:child_process';

const suites = process.argv.slice(2);
const globs = suites.length > 0 ? suites : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/cluster/**/*.test.ts'];

const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...globs], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
