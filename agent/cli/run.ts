// `gpu-health-agent run`: the agent itself. Flags and the --config file are
// read here; everything else is the runtime's.
import { errorText } from '../model/text.ts';
import type { Command } from './command.ts';
import { loadConfig, UsageError, type AgentConfig } from '../config/load.ts';
import { flagHelp } from '../config/flags.ts';
import { formatListenAddress, isLoopbackHost } from '../config/address.ts';
import { createLogger, type Logger } from '../report/log/logger.ts';
import { createKubeReporter } from '../report/kube/reporter.ts';
import { startAgent } from '../runtime/agent.ts';
import { exitProcess, stopWithin } from '../runtime/exit.ts';
import type { PodLookup } from '../model/pod-ref.ts';
import { withPodImpact } from '../report/pod-impact.ts';
import { lazyPodLookup } from '../sources/podresources/lazy.ts';
import { configuredSources } from '../runtime/sources.ts';
import type { Reporter } from '../runtime/types.ts';

const HELP = `usage: gpu-health-agent run [flags]

Watches the kernel log (and DCGM / NVML) for GPU faults and sets the node
condition. Every flag can also be given in a --config file (YAML or JSON) under
its camelCase name, e.g. stateDir: /var/lib/gpu-health-agent.

${flagHelp()}
`;

/** SIGTERM: sources stop and state is flushed within this, then the process ends (runtime/exit.ts). */
const STOP_BOUND_MS = 5000;

/** The kube reporter; with --dry-run over its log transport (same write policy, nothing sent). */
function reporterFor(config: AgentConfig, log: Logger): Reporter {
  return createKubeReporter({
    nodeName: config.nodeName,
    conditionType: config.conditionType,
    heartbeatMs: config.heartbeatMs,
    dryRun: config.dryRun,
    ...(config.kubeconfig === null ? {} : { kubeconfig: config.kubeconfig }),
    logger: log.child({ reporter: config.dryRun ? 'dry-run' : 'kube' }),
  });
}

export const command: Command = {
  async run(args) {
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    let config: AgentConfig;
    try {
      config = loadConfig(args);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      process.stderr.write(`run: ${err.message}\nRun \`gpu-health-agent run --help\` for the flags.\n`);
      return 2;
    }
    if (config.kmsg === null && config.logFiles.length === 0 && config.gpuBackend === 'none') {
      process.stderr.write('run: nothing to observe: --kmsg none, no --log-file and --gpu-backend none\n');
      return 2;
    }
    const log = createLogger(config.logLevel);
    log.info({ config }, 'starting');
    if (!isLoopbackHost(config.debugAddr.host)) {
      log.warn(
        { debugAddr: formatListenAddress(config.debugAddr) },
        '--debug-addr is not a loopback address: /debug/state (GPUs, findings, pods) and /debug/rules are served to whatever can reach it; the chart keeps it on 127.0.0.1 (use --metrics-addr to expose /metrics only)',
      );
    }

    const reporter = reporterFor(config, log);
    const pods: PodLookup | null = config.podResourcesSocket === null ? null : lazyPodLookup(config.podResourcesSocket);
    const reporters = [pods === null ? reporter : withPodImpact(reporter, pods, { podEvents: config.podEvents })];

    const sources = configuredSources(config, log);

    let agent;
    try {
      agent = await startAgent({ config, log, sources, reporters, pods });
    } catch (err) {
      log.fatal({ err: errorText(err) }, 'cannot start');
      // What did start (listeners, reporters' timers) must not keep the process alive.
      await exitProcess(1, log, { graceMs: 0 });
      return 1;
    }

    return new Promise<number>((resolve) => {
      const onSignal = (sig: NodeJS.Signals): void => {
        log.info({ signal: sig }, 'stopping');
        // A second signal while stopping means "now".
        process.once(sig, () => void exitProcess(1, log, { graceMs: 0 }));
        // Bounded, and then the process ends itself: a native call stuck in a worker
        // thread would otherwise keep it alive until the kubelet's SIGKILL.
        void stopWithin(agent.stop(), STOP_BOUND_MS, log).then(async (code) => {
          await exitProcess(code, log, {});
          resolve(code);
        });
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
  },
};
