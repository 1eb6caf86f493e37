// Every `run` option once: its flag, its config-file key and how its value is
// read. Flags and the config file share this table so they cannot drift apart.
export type OptionKind = 'string' | 'bool' | 'int' | 'duration' | 'list' | 'address' | 'backend' | 'level';

export interface OptionSpec {
  /** camelCase key in the config file and in AgentConfig. */
  key: string;
  /** kebab-case flag without the leading dashes. */
  flag: string;
  kind: OptionKind;
  help: string;
}

export const GPU_BACKENDS = ['dcgm', 'nvml', 'auto', 'none'] as const;
export type GpuBackend = (typeof GPU_BACKENDS)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'config', flag: 'config', kind: 'string', help: 'YAML or JSON file with the same keys in camelCase; flags win' },
  { key: 'nodeName', flag: 'node-name', kind: 'string', help: 'this node (default: $NODE_NAME, else the hostname)' },
  { key: 'kmsg', flag: 'kmsg', kind: 'string', help: 'kernel log device (default /dev/kmsg; "none" disables it)' },
  { key: 'logFile', flag: 'log-file', kind: 'list', help: 'kernel log file to tail as well (repeatable)' },
  { key: 'stateDir', flag: 'state-dir', kind: 'string', help: 'where findings and the kernel-log cursor persist (default /var/lib/gpu-health-agent)' },
  { key: 'rules', flag: 'rules', kind: 'string', help: 'rule override file, reloaded when it changes' },
  { key: 'debugAddr', flag: 'debug-addr', kind: 'address', help: 'debug HTTP host:port (default 127.0.0.1:20277)' },
  { key: 'metricsAddr', flag: 'metrics-addr', kind: 'address', help: 'second listener serving only /metrics, e.g. 0.0.0.0:20278 (default: none)' },
  { key: 'acceptDrills', flag: 'accept-drills', kind: 'bool', help: 'treat `gpu-health-agent drill` records as evidence (labelled drill)' },
  { key: 'dryRun', flag: 'dry-run', kind: 'bool', help: 'write nothing to the API server; log the condition and Events instead' },
  { key: 'kubeconfig', flag: 'kubeconfig', kind: 'string', help: 'kubeconfig file (default: in-cluster service account)' },
  { key: 'conditionType', flag: 'condition-type', kind: 'string', help: 'node condition type (default AcceleratedHardwareReady)' },
  { key: 'heartbeat', flag: 'heartbeat', kind: 'duration', help: 'refresh lastHeartbeatTime this often (default 5m)' },
  { key: 'gpuBackend', flag: 'gpu-backend', kind: 'backend', help: 'dcgm | nvml | auto | none (default auto)' },
  { key: 'dcgmAddress', flag: 'dcgm-address', kind: 'string', help: 'nv-hostengine address (default unix:///run/nvidia-dcgm/hostengine.sock)' },
  { key: 'dcgmInterval', flag: 'dcgm-interval', kind: 'duration', help: 'DCGM health poll interval (default 30s)' },
  { key: 'dcgmLib', flag: 'dcgm-lib', kind: 'string', help: 'libdcgm path or soname (default libdcgm.so.4; a .so.3 path selects DCGM 3)' },
  { key: 'nvmlLib', flag: 'nvml-lib', kind: 'string', help: 'NVML path or soname (default libnvidia-ml.so.1)' },
  { key: 'expectedGpus', flag: 'expected-gpus', kind: 'int', help: "GPUs this node should have; fewer is a fault (default: the Node's nvidia.com/gpu capacity)" },
  { key: 'podResourcesSocket', flag: 'pod-resources-socket', kind: 'string', help: 'kubelet pod-resources socket, to name the pods on a faulty GPU (default /var/lib/kubelet/pod-resources/kubelet.sock; "none" disables)' },
  { key: 'podEvents', flag: 'pod-events', kind: 'bool', help: 'also post an Event regarding each Pod that holds a faulty GPU (needs rbac.podEvents)' },
  { key: 'bootIdFile', flag: 'boot-id-file', kind: 'string', help: 'boot id source (default /proc/sys/kernel/random/boot_id)' },
  { key: 'sysfsRoot', flag: 'sysfs-root', kind: 'string', help: 'where sysfs is mounted; a kernel record must name one of the NVIDIA devices under <root>/bus/pci/devices (default /sys)' },
  { key: 'sysfsInterval', flag: 'sysfs-interval', kind: 'duration', help: 'look at the PCI bus (NVIDIA functions, their AER counters, GPUs that never came up) this often (default 10s)' },
  { key: 'uptimeFile', flag: 'uptime-file', kind: 'string', help: 'this boot\'s start, for skipping --log-file lines of earlier boots: /proc/uptime or a /proc/stat btime line (default /proc/uptime)' },
  { key: 'logLevel', flag: 'log-level', kind: 'level', help: 'trace | debug | info | warn | error (default info)' },
];
