import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reexecArgs, SEMI_SPACE_FLAG } from '../../agent/runtime/v8-flags.ts';

test('only `run` without the semi-space flag re-executes, with the flag before the script and its other node options kept', () => {
  const node = '/usr/bin/node';
  assert.deepEqual(reexecArgs([node, '/app/main.js', 'run', '--dry-run'], ['--enable-source-maps'], {}), [node, '--enable-source-maps', SEMI_SPACE_FLAG, '/app/main.js', 'run', '--dry-run']);
  assert.equal(reexecArgs([node, '/app/main.js', 'run'], ['--max-semi-space-size=1'], {}), null, 'the image ENTRYPOINT and the shebang');
  assert.equal(reexecArgs([node, '/app/main.js', 'run'], ['--max-semi-space-size=4'], {}), null, 'a size someone chose');
  assert.equal(reexecArgs([node, '/app/main.js', 'run'], [], { NODE_OPTIONS: '--max-semi-space-size=2 --trace-warnings' }), null);
  assert.equal(reexecArgs([node, '/app/main.js', 'run'], [], { GPU_HEALTH_AGENT_REEXEC: '1' }), null, 'never twice');
  for (const cmd of ['status', 'parse', 'rules', 'clear', 'drill']) assert.equal(reexecArgs([node, '/app/main.js', cmd], [], {}), null, cmd);
});
