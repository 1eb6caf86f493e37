import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reservePoolThreads } from '../../agent/runtime/thread-pool.ts';

test('the pool grows by one over the default or over what the user asked for', () => {
  const env: NodeJS.ProcessEnv = {};
  assert.equal(reservePoolThreads(env), 5);
  assert.equal(env.UV_THREADPOOL_SIZE, '5');
  assert.equal(reservePoolThreads({ UV_THREADPOOL_SIZE: '16' }), 17);
  assert.equal(reservePoolThreads({ UV_THREADPOOL_SIZE: 'junk' }), 5);
  assert.equal(reservePoolThreads({ UV_THREADPOOL_SIZE: '1024' }), 1024);
});
