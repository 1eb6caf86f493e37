#!/usr/bin/env node
// Entry point: dispatches to one command module; wiring only.
import { main } from './cli/index.ts';

process.exitCode = await main(process.argv.slice(2));
