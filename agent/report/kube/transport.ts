// Where the kube reporter's writes go. The write policy (a False at once,
// coalescing, heartbeats, update spacing, Event series, rate limits, retries)
// lives in the condition writer and the Event recorder, once; a transport only
// carries one request. `apiTransport` sends it to the API server; `dryRunTransport`
// (--dry-run) logs the request it would send and reads the Node when it can, so a
// dry run shows exactly what the agent would write, when, and with which
// transition time.
import { CONTENT_MERGE, CONTENT_STRATEGIC_MERGE, type KubeClient } from './client.ts';
import { conditionPatch, type NodeCondition, type NodeLike } from './condition.ts';
import type { KubeLogger } from './log.ts';

export interface KubeTransport {
  /** What a watch on the Node can use; null: nothing is watched (a dry run, whose writes never reach the Node). */
  readonly watchClient: KubeClient | null;
  /** The Node as the API server holds it; undefined: nothing to read from (a dry run without API access). */
  readNode(): Promise<NodeLike | undefined>;
  /** Writes the condition; the Node after the write, or undefined when nothing was sent. */
  writeCondition(condition: NodeCondition, why: string, timeoutMs?: number): Promise<NodeLike | undefined>;
  /** POSTs a new Event to `path` (the events collection of a namespace). */
  createEvent(path: string, body: Record<string, unknown>): Promise<void>;
  /** Raises the count of the Event `name` under `path`. */
  updateEventSeries(path: string, name: string, series: Record<string, unknown> | undefined): Promise<void>;
}

function nodePath(nodeName: string): string {
  return `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
}

async function readNode(client: KubeClient, nodeName: string): Promise<NodeLike> {
  return (await client.request<NodeLike>('GET', nodePath(nodeName))).body;
}

export function apiTransport(client: KubeClient, nodeName: string, logger: KubeLogger): KubeTransport {
  return {
    watchClient: client,
    readNode: async () => readNode(client, nodeName),
    async writeCondition(condition, why, timeoutMs) {
      const res = await client.request<NodeLike>('PATCH', `${nodePath(nodeName)}/status`, {
        body: conditionPatch(condition),
        contentType: CONTENT_STRATEGIC_MERGE,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
      logger.info({ node: nodeName, condition, why }, 'wrote node condition');
      return res.body;
    },
    async createEvent(path, body) {
      await client.request('POST', path, { body });
    },
    async updateEventSeries(path, name, series) {
      await client.request('PATCH', `${path}/${encodeURIComponent(name)}`, { body: { series }, contentType: CONTENT_MERGE });
    },
  };
}

/** `client`: the API, for reading the Node only; undefined when the dry run has no API access. */
export function dryRunTransport(client: KubeClient | undefined, nodeName: string, logger: KubeLogger): KubeTransport {
  return {
    watchClient: null,
    readNode: async () => (client === undefined ? undefined : readNode(client, nodeName)),
    async writeCondition(condition, why) {
      logger.info({ dryRun: true, node: nodeName, condition, why }, 'would write node condition');
      return undefined;
    },
    async createEvent(_path, body) {
      logger.info({ dryRun: true, node: nodeName, event: body }, 'would write event');
    },
    async updateEventSeries(_path, name, series) {
      logger.info({ dryRun: true, node: nodeName, name, series }, 'would update event series');
    },
  };
}
