// `gpu-health-agent fleet`: the platform team's view of every GPU node, from a
// person's own kubeconfig (contexts, exec credential plugins such as
// `aws eks get-token`, OIDC, proxies). It uses @kubernetes/client-node, imported
// here lazily and nowhere else: the library costs ~80 MiB resident, so `run`
// keeps the agent's own thin client (test/integration/fleet-lazy-import.test.ts).
import { parseArgs } from 'node:util';
import type { Command } from './command.ts';
import { parseDuration } from '../model/duration.ts';
import { fleetView, type FleetOptions, type NodeLike } from './fleet-view.ts';
import { formatFleet } from './fleet-format.ts';
import { describeFleetError, type FleetError } from './fleet-errors.ts';
import { errorText } from '../model/text.ts';

const HELP = `usage: gpu-health-agent fleet [--kubeconfig PATH] [--context NAME] [--json] [--watch]

Lists the GPU nodes of a cluster: the agent's condition (status, reason, since,
the GPU its message names), the agent's last heartbeat, and when the repair
controllers (Karpenter, EKS node repair) act on the node. Per NodePool / EKS node
group: unhealthy nodes against the repair budget, and whether repair is blocked.
Needs list (and, for --watch, watch) on nodes.
  --kubeconfig PATH        default: $KUBECONFIG, else ~/.kube/config
  --context NAME           a context of the kubeconfig (default: its current one)
  --condition-type TYPE    the agent's condition (default AcceleratedHardwareReady)
  --stale-after DURATION   a heartbeat older than this means the agent is not reporting (default 15m)
  --json                   print the view as JSON (with --watch: one line per change)
  --watch                  keep it current (Ctrl-C ends it)
`;

type K8s = typeof import('@kubernetes/client-node');

interface Client {
  k8s: K8s;
  kc: InstanceType<K8s['KubeConfig']>;
  list(): Promise<NodeLike[]>;
  server: string;
  /** The user's exec credential plugin, named in errors. */
  exec: string | null;
}

async function connect(kubeconfig: string | undefined, context: string | undefined): Promise<Client> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    if (kubeconfig === undefined) kc.loadFromDefault();
    else kc.loadFromFile(kubeconfig);
  } catch (err) {
    throw { kind: 'config', detail: errorText(err) } satisfies FleetError;
  }
  if (context !== undefined) {
    if (kc.getContextObject(context) === null) throw { kind: 'config', detail: `no context "${context}" (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})` } satisfies FleetError;
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw { kind: 'config', detail: `no cluster for context "${kc.getCurrentContext()}"${kubeconfig === undefined ? '' : ` in ${kubeconfig}`}` } satisfies FleetError;
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const exec = kc.getCurrentUser()?.exec?.command ?? null;
  return { k8s, kc, server: cluster.server, exec, list: async () => (await api.listNode()).items as NodeLike[] };
}

function render(nodes: readonly NodeLike[], opts: FleetOptions, json: boolean, watch: boolean): string {
  const view = fleetView(nodes, Date.now(), opts);
  if (json) return watch ? `${JSON.stringify(view)}\n` : `${JSON.stringify(view, null, 2)}\n`;
  const text = formatFleet(view);
  if (!watch) return text;
  // A terminal redraws in place; a pipe gets one block per change.
  return process.stdout.isTTY ? `\x1b[H\x1b[2J${view.at}\n\n${text}` : `--- ${view.at}\n${text}`;
}

const WATCH_REFRESH_MS = 15_000;
const WATCH_RETRY_MS = 5_000;

async function watch(client: Client, opts: FleetOptions, json: boolean): Promise<number> {
  const informer = client.k8s.makeInformer(client.kc, '/api/v1/nodes', async () => {
    const api = client.kc.makeApiClient(client.k8s.CoreV1Api);
    return api.listNode();
  });
  let pending: NodeJS.Timeout | null = null;
  const draw = (): void => {
    pending = null;
    process.stdout.write(render(informer.list() as NodeLike[], opts, json, true));
  };
  // Bursts of node updates (every kubelet heartbeat) draw once.
  const soon = (): void => void (pending ??= setTimeout(draw, 100));
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, soon);
  let done: (code: number) => void = () => undefined;
  const finished = new Promise<number>((res) => (done = res));
  informer.on('error', (err: unknown) => {
    const e = describeFleetError(err, client.server, client.exec);
    process.stderr.write(`fleet: ${e.text}\n`);
    // Refusals do not heal by waiting; an unreachable server may.
    if (e.permanent) done(1);
    else setTimeout(() => void informer.start().catch(() => undefined), WATCH_RETRY_MS).unref();
  });
  const refresh = setInterval(draw, WATCH_REFRESH_MS);
  const stop = (): void => done(0);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await informer.start();
  const code = await finished;
  clearInterval(refresh);
  if (pending !== null) clearTimeout(pending);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await informer.stop();
  return code;
}

export const command: Command = {
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          kubeconfig: { type: 'string' },
          context: { type: 'string' },
          'condition-type': { type: 'string', default: 'AcceleratedHardwareReady' },
          'stale-after': { type: 'string', default: '15m' },
          json: { type: 'boolean', default: false },
          watch: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (err) {
      process.stderr.write(`fleet: ${errorText(err)}\n${HELP}`);
      return 2;
    }
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const staleAfterMs = parseDuration(values['stale-after']);
    if (staleAfterMs === null) {
      process.stderr.write(`fleet: --stale-after: "${values['stale-after']}" is not a duration (e.g. 15m)\n`);
      return 2;
    }
    const opts: FleetOptions = { conditionType: values['condition-type'], staleAfterMs };
    let client: Client | undefined;
    try {
      client = await connect(values.kubeconfig, values.context);
      // One list first, in --watch too: a refusal or an unreachable server is told at once.
      const nodes = await client.list();
      if (!values.watch) {
        process.stdout.write(render(nodes, opts, values.json, false));
        return 0;
      }
      return await watch(client, opts, values.json);
    } catch (err) {
      process.stderr.write(`fleet: ${describeFleetError(err, client?.server ?? null, client?.exec ?? null).text}\n`);
      return 1;
    }
  },
};
