// Builds the agent's effective configuration: defaults, then the --config
// file, then flags. Any problem is a UsageError with a message naming the flag
// or file key, so `run` can print it and exit 2.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../model/duration.ts';
import { parseListenAddress, type ListenAddress } from './address.ts';
import { parseFlags, UsageError, type RawConfig } from './flags.ts';
import { ConfigFileSchema } from './schema.ts';
import { OPTIONS, type GpuBackend, type LogLevel } from './options.ts';
import { errorText } from '../model/text.ts';

/** The kubelet's pod-resources socket (kept here so loading the config does not load gRPC). */
export const DEFAULT_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';

export interface AgentConfig {
  nodeName: string;
  /** null when disabled with `--kmsg none`. */
  kmsg: string | null;
  logFiles: string[];
  stateDir: string;
  rules: string | null;
  debugAddr: ListenAddress;
  /** Second listener serving only /metrics; null when not asked for. */
  metricsAddr: ListenAddress | null;
  acceptDrills: boolean;
  dryRun: boolean;
  kubeconfig: string | null;
  conditionType: string;
  heartbeatMs: number;
  gpuBackend: GpuBackend;
  dcgmAddress: string;
  dcgmIntervalMs: number;
  /** libdcgm / NVML path or soname; null: the backend's default soname. */
  dcgmLib: string | null;
  nvmlLib: string | null;
  /** null: from the Node's nvidia.com/gpu capacity when a kube reporter reads it, else no count check. */
  expectedGpus: number | null;
  /** null when disabled with `--pod-resources-socket none`. */
  podResourcesSocket: string | null;
  podEvents: boolean;
  bootIdFile: string;
  /** This boot's start comes from here (uptime or btime). */
  uptimeFile: string;
  /** Where sysfs is mounted: the node's NVIDIA PCI devices are read from <root>/bus/pci/devices. */
  sysfsRoot: string;
  /** How often the PCI bus is looked at (AER counters, GPUs that never came up). */
  sysfsIntervalMs: number;
  logLevel: LogLevel;
  /** The --config file, if any, for the startup log line. */
  configFile: string | null;
}

export interface LoadEnv {
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
  hostname: () => string;
}

const defaultEnv: LoadEnv = {
  env: process.env,
  readFile: (path) => readFileSync(path, 'utf8'),
  hostname,
};

export function loadConfig(argv: readonly string[], io: LoadEnv = defaultEnv): AgentConfig {
  const fromFlags = validate(parseFlags(argv), (key) => `--${flagOf(key)}`);
  const configFile = typeof fromFlags.config === 'string' ? fromFlags.config : null;
  delete fromFlags.config;
  const fromFile = configFile === null ? {} : validate(readConfigFile(configFile, io), (key) => `${configFile}: ${key}`);
  const merged = { ...fromFile, ...fromFlags };
  return resolve(merged, configFile, io);
}

function readConfigFile(path: string, io: LoadEnv): RawConfig {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (err) {
    throw new UsageError(`--config ${path}: ${errorText(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`${path}: not YAML or JSON: ${errorText(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${path}: expected a mapping of option keys`);
  return doc as RawConfig;
}

function validate(raw: RawConfig, where: (key: string) => string): RawConfig {
  const { config, ...rest } = raw;
  const result = ConfigFileSchema.safeParse(rest);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue?.path.map(String).join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : '?');
    throw new UsageError(`${where(key)}: ${issue?.message ?? 'invalid'}`);
  }
  return config === undefined ? { ...result.data } : { ...result.data, config };
}

function flagOf(key: string): string {
  return OPTIONS.find((o) => o.key === key)?.flag ?? key;
}

function resolve(c: RawConfig, configFile: string | null, io: LoadEnv): AgentConfig {
  const str = (key: string): string | undefined => c[key] as string | undefined;
  const kmsg = str('kmsg') ?? '/dev/kmsg';
  const podSocket = str('podResourcesSocket') ?? DEFAULT_POD_RESOURCES_SOCKET;
  const metricsAddr = str('metricsAddr');
  const logFile = c.logFile;
  return {
    nodeName: str('nodeName') ?? nonEmpty(io.env.NODE_NAME) ?? io.hostname(),
    kmsg: kmsg === 'none' ? null : kmsg,
    logFiles: logFile === undefined ? [] : Array.isArray(logFile) ? (logFile as string[]) : [logFile as string],
    stateDir: str('stateDir') ?? '/var/lib/gpu-health-agent',
    rules: str('rules') ?? null,
    debugAddr: parseListenAddress(str('debugAddr') ?? '127.0.0.1:20277') as ListenAddress,
    metricsAddr: metricsAddr === undefined ? null : (parseListenAddress(metricsAddr) as ListenAddress),
    acceptDrills: c.acceptDrills === true,
    dryRun: c.dryRun === true,
    kubeconfig: str('kubeconfig') ?? null,
    conditionType: str('conditionType') ?? 'AcceleratedHardwareReady',
    heartbeatMs: parseDuration(str('heartbeat') ?? '5m') as number,
    gpuBackend: (str('gpuBackend') as GpuBackend | undefined) ?? 'auto',
    dcgmAddress: str('dcgmAddress') ?? 'unix:///run/nvidia-dcgm/hostengine.sock',
    dcgmIntervalMs: parseDuration(str('dcgmInterval') ?? '30s') as number,
    dcgmLib: str('dcgmLib') ?? null,
    nvmlLib: str('nvmlLib') ?? null,
    expectedGpus: (c.expectedGpus as number | undefined) ?? null,
    podResourcesSocket: podSocket === 'none' ? null : podSocket,
    podEvents: c.podEvents === true,
    bootIdFile: str('bootIdFile') ?? '/proc/sys/kernel/random/boot_id',
    uptimeFile: str('uptimeFile') ?? '/proc/uptime',
    sysfsRoot: str('sysfsRoot') ?? '/sys',
    sysfsIntervalMs: parseDuration(str('sysfsInterval') ?? '10s') as number,
    logLevel: (str('logLevel') as LogLevel | undefined) ?? 'info',
    configFile,
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

export { UsageError };
