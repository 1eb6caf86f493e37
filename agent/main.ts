#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --no-opt
// Entry point: dispatches to one command module; wiring only.
//
// The shebang's flag (also in the Dockerfile's ENTRYPOINT) caps V8's young
// generation at 1 MiB per semi-space: the default lets it grow to 8-16 MiB, all of
// it resident after a burst of records, for no throughput gain on this workload
// (bench/agent-memory.ts, bench/kmsg-throughput.ts). `run` started without it
// re-executes itself with it (runtime/v8-flags.ts).
import './runtime/v8-flags.ts'; // first: may replace the process before anything else runs
import './runtime/thread-pool.ts'; // then: sizes libuv's pool before anything uses it
import { main } from './cli/index.ts';

process.exitCode = await main(process.argv.slice(2));
