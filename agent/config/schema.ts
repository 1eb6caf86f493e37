// The config file's schema. Values are written as a person would in YAML:
// durations as "30s", the debug address as "127.0.0.1:20277".
import { z } from 'zod';
import { parseDuration } from '../model/duration.ts';
import { parseListenAddress } from './address.ts';
import { GPU_BACKENDS, LOG_LEVELS } from './options.ts';

const duration = z.string().refine((s) => parseDuration(s) !== null, { message: 'expected a duration such as "30s" or "5m"' });
const address = z.string().refine((s) => parseListenAddress(s) !== null, { message: 'expected host:port, e.g. "127.0.0.1:20277"' });
const nonEmpty = z.string().min(1);

/** Every key is optional; unknown keys are errors (a typo must not be silently ignored). */
export const ConfigFileSchema = z.strictObject({
  nodeName: nonEmpty.optional(),
  kmsg: nonEmpty.optional(),
  logFile: z.union([nonEmpty, z.array(nonEmpty)]).optional(),
  stateDir: nonEmpty.optional(),
  rules: nonEmpty.optional(),
  debugAddr: address.optional(),
  metricsAddr: address.optional(),
  acceptDrills: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  kubeconfig: nonEmpty.optional(),
  conditionType: nonEmpty.optional(),
  heartbeat: duration.optional(),
  gpuBackend: z.enum(GPU_BACKENDS).optional(),
  dcgmAddress: nonEmpty.optional(),
  dcgmInterval: duration.optional(),
  dcgmLib: nonEmpty.optional(),
  nvmlLib: nonEmpty.optional(),
  expectedGpus: z.int().min(0).optional(),
  podResourcesSocket: nonEmpty.optional(),
  podEvents: z.boolean().optional(),
  bootIdFile: nonEmpty.optional(),
  uptimeFile: nonEmpty.optional(),
  sysfsRoot: nonEmpty.optional(),
  sysfsInterval: duration.optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
});

export type ConfigFile = z.infer<typeof ConfigFileSchema>;
