// The composition root: builds the agent's parts, starts them in order, stops
// them in order. Data flows one way, sources -> the decision core (core.ts, with
// health and the rules inside) -> reporters; every decision is the core's, made
// with the time passed in, and this file only carries events in and outputs out.
//
// Order of start: boot id, rules, the control socket (one agent per state dir),
// persisted state, reporters (which read the Node), the debug server, then the
// sources (the PCI bus first). No condition reaches a reporter before the
// core is ready: the kernel log has been replayed and every source finished its
// first cycle.
import { errorText, iso } from '../model/text.ts';
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/load.ts';
import { formatListenAddress, type ListenAddress } from '../config/address.ts';
import type { Observation } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { NodeFacts, Notice } from '../model/verdict.ts';
import { describeHealth, toSnapshot } from '../health/index.ts';
import { actionOf, reasonOf, severityOf } from '../health/describe.ts';
import { loadDefaults, loadRuleFile } from '../rules/load.ts';
import { riskyRulesNotice } from '../rules/risk.ts';
import { watchRuleFile, type RuleWatcher } from '../rules/watch.ts';
import type { RuleTable } from '../rules/types.ts';
import { createMetrics, type AgentMetrics } from './inspect/metrics.ts';
import { startDebugServer, type DebugServer, type DebugSurface } from './inspect/server.ts';
import { debugState, rulesView, withPods } from './inspect/views.ts';
import { createLineBudgets } from './line-budget.ts';
import { riskyKernelSettings } from '../sources/kmsg/kernel-settings.ts';
import { readBootId } from './boot-id.ts';
import { readBootTime } from './boot-time.ts';
import { controlSocketPath, listenControlSocket, StateDirTaken, type ControlReply } from './control-socket.ts';
import { createCore, nodeFalseNewerThanState, step, type CoreEvent, type CoreOutput, type CoreState } from './core.ts';
import { createPersistence, type Persistence, type PersistenceView } from './persistence.ts';
import type { PodLookup } from '../model/pod-ref.ts';
import { podsForView } from '../sources/podresources/lazy.ts';
import { readAgain, readStartState } from './restore.ts';
import { reporterSet } from './reporter-set.ts';
import { createSaver, type Saver } from './saver.ts';
import { writeStateFile, type KmsgCursor, type LogFilePosition } from './state-file.ts';
import type { RejectedRecord, Reporter, Source, SourceCallbacks, SourceStart, WriteRecord } from './types.ts';

/** Housekeeping period: quiet windows, source status polls, readiness. 1 s keeps an idle agent idle. */
export const TICK_MS = 1000;
/** Changes within this long are one state-file write. */
export const SAVE_DELAY_MS = 200;
/** /debug/state waits at most this long for the kubelet's pod list. */
const POD_VIEW_BOUND_MS = 1000;
/** A cursor or log-file offset that moved without any finding is persisted at most this often. */
const CURSOR_SAVE_MS = 10_000;
/** Rejected kernel records kept for /debug/state. */
const RECENT_REJECTED = 8;
/** How long the start waits for the API server's view of the Node before reading the kernel log. */
const ADOPT_WAIT_MS = 3000;

/** Resolves when `p` settles or after `ms`, whichever is first. */
async function firstOf(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

export interface AgentOptions {
  config: AgentConfig;
  log: Logger;
  /** Builds the configured sources around the runtime's callbacks. */
  sources: (cb: SourceCallbacks, ctx: SourceStart) => Source[];
  reporters: Reporter[];
  /** The kubelet's pod-resources lookup, for the pods per GPU in /debug/state; null or absent: disabled. */
  pods?: PodLookup | null;
  now?: () => number;
}

export interface RunningAgent {
  debugAddress: ListenAddress;
  /** The /metrics-only listener, when --metrics-addr asked for one. */
  metricsAddress: ListenAddress | null;
  bootId: string;
  stop(): Promise<void>;
}

/** What the run loop holds; one object so the debug views read one consistent picture. */
export interface AgentView {
  config: AgentConfig;
  bootId: string;
  /** The decisions: health, rules, readiness, the condition. */
  core: CoreState;
  sources: Source[];
  statuses: Map<string, SourceStatus>;
  lastWrite: WriteRecord | null;
  persisted: WriteRecord | null;
  lastReload: WriteRecord | null;
  /** Whether state survives a restart (state file, control socket). */
  persistence: () => PersistenceView;
  /** The latest kernel records rejected as not the driver's (bounded), for /debug/state. */
  rejected: Array<RejectedRecord & { at: number }>;
}

export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { config, log } = opts;
  const now = opts.now ?? Date.now;
  const bootId = await readBootId(config.bootIdFile);
  // Only log files need it (lines of earlier boots); unreadable means every line counts, never a lost fault.
  let bootTimeMs: number | null = null;
  if (config.logFiles.length > 0) {
    try {
      bootTimeMs = await readBootTime(config.uptimeFile, now());
    } catch (err) {
      log.warn({ uptimeFile: config.uptimeFile, err: errorText(err) }, 'cannot tell when this boot began; log-file lines of earlier boots will count');
    }
  }

  // Rules: the defaults, with the override file when it is valid.
  let rules = loadDefaults();
  let lastReload: WriteRecord | null = null;
  let refusedAtStart: string | null = null;
  if (config.rules !== null) {
    const loaded = await loadRuleFile(config.rules);
    if (loaded.ok) {
      rules = loaded.table;
      lastReload = { at: now(), what: 'rules', ok: true, detail: `loaded ${rules.origin}` };
    } else {
      refusedAtStart = loaded.error;
      lastReload = { at: now(), what: 'rules', ok: false, detail: loaded.error };
    }
  }

  // Lines an outside event can multiply (a storm of distinct findings, a peer hammering the control socket) are bounded.
  const lines = createLineBudgets();

  // Claim the state dir first: a second agent on it fails here, before it touches the state file. Only
  // that is fatal: a state dir that cannot hold the socket (read-only, ...) means no clears and no persistence.
  let clearHandler: ((gpu: string | undefined) => ControlReply) | null = null;
  const startedAt = now();
  const persistence: Persistence = createPersistence(config.stateDir, startedAt);
  let control: Server | null = null;
  try {
    control = await listenControlSocket(
      config.stateDir,
      (req) => (clearHandler === null ? { ok: false, error: 'the agent is still starting' } : clearHandler(req.gpu)),
      { onDenied: (uid, why) => lines.budget('control-denied').take(now()) && log.warn({ uid }, `control socket: ${why}`) },
    );
    persistence.controlSocketUp(controlSocketPath(config.stateDir));
  } catch (err) {
    if (err instanceof StateDirTaken) throw err;
    persistence.controlSocketDown(controlSocketPath(config.stateDir), err as Error);
    log.warn({ err: errorText(err), stateDir: config.stateDir }, 'control socket unavailable; `gpu-health-agent clear` cannot reach this agent');
  }

  // Persisted state, then which NVIDIA devices this node has: both before the kernel log is read.
  const start = await readStartState(config, bootId, rules, startedAt, log);
  const savedCondition = start.condition;
  const kernelRisks = config.kmsg === null ? [] : riskyKernelSettings();
  for (const risk of kernelRisks) log.warn({ setting: risk }, 'a kernel setting weakens the kernel log as evidence');

  const core: CoreState = createCore(start.health, rules, start.condition);
  const view: AgentView = {
    config,
    bootId,
    core,
    sources: [],
    statuses: new Map(),
    lastWrite: null,
    persisted: null,
    lastReload,
    persistence: () => persistence.view(),
    rejected: [],
  };
  const reporter = reporterSet(opts.reporters);

  const sumStats = (pick: 'drillsIgnored' | 'recordsRead' | 'recordsLost'): number => view.sources.reduce((n, s) => n + (s.stats?.()[pick] ?? 0), 0);
  const m: AgentMetrics = createMetrics({
    sources: () =>
      [...view.statuses.values()].map((status) => {
        const st = view.sources.find((s) => s.name === status.source)?.stats?.();
        const skipped = st?.skippedPreviousBoot;
        const foreign = core.health.devices.foreign[status.source] ?? 0;
        const rejected = st?.rejected === undefined && foreign === 0 ? undefined : { ...st?.rejected, 'foreign-device': foreign };
        return {
          source: status.source,
          up: status.state === 'up',
          disabled: status.state === 'disabled',
          recordsRead: st?.recordsRead ?? 0,
          recordsLost: st?.recordsLost ?? 0,
          ...(skipped === undefined ? {} : { skippedPreviousBoot: skipped }),
          ...(rejected === undefined ? {} : { rejected }),
          ...(st?.writableByOthers === undefined ? {} : { writableByOthers: st.writableByOthers }),
        };
      }),
    findings: () => {
      const counts = new Map<string, { reason: string; severity: string; drill: boolean; count: number }>();
      for (const g of describeHealth(core.health).gpus) {
        for (const f of g.findings) {
          const k = `${f.reason}|${f.severity}|${f.drill}`;
          const c = counts.get(k);
          if (c === undefined) counts.set(k, { reason: f.reason, severity: f.severity, drill: f.drill, count: 1 });
          else c.count += 1;
        }
      }
      return [...counts.values()];
    },
    findingsEvicted: () => core.health.evicted,
    drillsIgnored: () => sumStats('drillsIgnored'),
    devicesKnown: () => core.health.devices.known.size,
    condition: () => (core.condition === null ? null : { type: config.conditionType, status: core.condition.status }),
    ready: () => core.ready,
    persistence: () => persistence.view(),
    rulesRisky: () => core.rules.risky.length,
    linesSuppressed: () => lines.suppressed(),
    aer: () => view.sources.flatMap((s) => s.aer?.() ?? []),
  });
  if (refusedAtStart !== null) m.ruleReloads.inc({ result: 'refused' });
  if (lastReload?.ok === true) m.ruleReloads.inc({ result: 'ok' });

  // Persistence: health + cursor + condition in one atomic file.
  // Reading progress (kmsg cursor, log-file offsets) as one string, to see whether it moved since the last write.
  const positions = (): LogFilePosition[] => view.sources.flatMap((s) => s.positions?.() ?? []);
  const progress = (c: KmsgCursor | null, p: LogFilePosition[]): string => `${c?.seq ?? ''}|${p.map((x) => `${x.ino}:${x.offset}`).join(',')}`;
  let savedProgress = progress(start.cursor, start.logFiles);
  let lastSaveAt = 0;
  const kmsgCursor = (): KmsgCursor | null => view.sources.find((s) => s.cursor !== undefined)?.cursor?.() ?? start.cursor;
  const saver: Saver = createSaver(
    async () => {
      const c = kmsgCursor();
      // Sources not started yet (a write before start): keep the positions read at start.
      const p = view.sources.length === 0 ? start.logFiles : positions();
      const doc = { bootId, savedAt: now(), health: toSnapshot(core.health), cursor: c, condition: core.condition, logFiles: p };
      await writeStateFile(config.stateDir, doc);
      savedProgress = progress(c, p);
    },
    SAVE_DELAY_MS,
    (err) => {
      lastSaveAt = now();
      m.stateWrites.inc({ result: err === null ? 'ok' : 'error' });
      view.persisted = { at: lastSaveAt, what: 'state', ok: err === null, detail: err === null ? `${config.stateDir}/state.json` : err.message };
      const outcome = persistence.written(err, lastSaveAt);
      if (outcome.log !== null) log[outcome.log.level]({ err: err?.message, stateDir: config.stateDir }, outcome.log.msg);
      send(outcome.notices);
    },
  );

  const send = (notices: Notice[]): void => {
    for (const n of notices) {
      m.notices.inc({ type: n.type, drill: String(n.drill) });
      reporter.notice(n);
    }
  };

  // Verdicts reach the reporters in order; a new False only once the state file holds it.
  let verdicts: Promise<void> = Promise.resolve();
  let queuedVerdicts = 0;
  const tellReporters = (tell: NonNullable<CoreOutput['tell']>): void => {
    const deliver = (): void => reporter.setCondition(tell.condition);
    if (!tell.durableFirst && queuedVerdicts === 0) return deliver();
    queuedVerdicts++;
    verdicts = verdicts
      .then(() => (tell.durableFirst ? saver.flush() : undefined))
      .then(deliver, deliver)
      .finally(() => queuedVerdicts--);
  };

  /** One event through the decision core, and what it says to do. */
  const apply = (event: CoreEvent): CoreOutput => {
    const t = now();
    const out = step(core, event, t, { sourcesSettled: view.sources.every((s) => s.settled?.() ?? true) });
    if (out.becameReady) {
      log.info({ tookMs: t - startedAt, sources: [...view.statuses.values()].map((s) => `${s.source}:${s.state}`) }, 'first full observation cycle done; ready');
      if (!core.health.devices.listed) log.warn({ sysfsRoot: config.sysfsRoot }, 'sysfs lists no NVIDIA device: kernel records are checked by their format alone');
    }
    if (out.flipped !== null) log.info({ condition: { type: config.conditionType, ...out.flipped, lastTransitionTime: iso(out.flipped.lastTransitionTime) } }, 'condition changed');
    send(out.notices);
    if (out.save) saver.markDirty();
    if (out.tell !== null) tellReporters(out.tell);
    return out;
  };

  // One log line per kind of rejection; the rest are counted (gpu_health_records_rejected_total) and the latest shown.
  const rejectionsLogged = new Set<string>();
  const firstOfKind = (kind: string): boolean => !rejectionsLogged.has(kind) && rejectionsLogged.add(kind) !== undefined;
  const onRejected = (r: RejectedRecord): void => {
    view.rejected.push({ ...r, at: now() });
    if (view.rejected.length > RECENT_REJECTED) view.rejected.shift();
    if (!firstOfKind(`${r.source}/${r.why}`)) return;
    log.warn({ rejected: r }, "kernel record looks like NVIDIA's but is not the driver's whole record: not evidence; more of this kind are only counted");
  };

  // A batch of kernel records arrives in one callback: decide once after it,
  // in the same turn of the event loop, instead of once per record.
  let settlePending = false;
  const settleSoon = (): void => {
    if (settlePending) return;
    settlePending = true;
    setImmediate(() => {
      settlePending = false;
      apply({ kind: 'settle' });
    });
  };

  const onObservation = (obs: Observation): void => {
    m.observations.inc({ source: obs.source, kind: obs.evidence.kind, drill: String(obs.drill) });
    const out = apply({ kind: 'observed', obs });
    const foreign = out.notices.find((n) => n.reason === 'GPUHealthRecordRejected');
    if (foreign !== undefined && firstOfKind(`${obs.source}/foreign-device`)) {
      log.warn({ source: obs.source, note: foreign.note }, 'kernel record names no NVIDIA device of this node: not evidence; more of this kind are only counted');
    }
    const found = out.finding;
    if (found !== null && found !== undefined && found.counted) logFinding(found, obs);
    settleSoon();
  };

  /** One info line per finding, within the budget; its repeats (an Xid storm) only at debug level. */
  const logFinding = ({ gpu, id, finding: f }: NonNullable<CoreOutput['finding']>, obs: Observation): void => {
    const level = f.count === 1 ? 'info' : 'debug';
    const severity = severityOf(f);
    if (!log.isLevelEnabled(level) || !lines.budget(severity === 'fatal' ? 'fatal-finding' : 'finding').take(now())) return;
    log[level](
      {
        finding: { id, reason: reasonOf(f), severity, action: actionOf(f), count: f.count, firstSeen: f.firstSeen, lastSeen: f.lastSeen, detail: f.detail },
        gpu: { pci: gpu.pci, uuid: gpu.uuid, index: gpu.index },
        source: obs.source,
        drill: obs.drill,
      },
      'finding',
    );
  };

  const onStatus = (reported: SourceStatus): void => {
    // Where no device is known, a kernel record is judged by its format alone: the source status says so.
    const kernelLog = (reported.source === 'kmsg' || reported.source === 'logfile') && reported.state === 'up';
    const notes = [
      ...(kernelLog && !core.health.devices.listed ? ['sysfs lists no NVIDIA device: records checked by their format alone'] : []),
      ...(reported.source === 'kmsg' && kernelLog ? kernelRisks : []),
    ];
    const status = notes.length === 0 ? reported : { ...reported, detail: [reported.detail, ...notes].join('; ') };
    const prev = view.statuses.get(status.source);
    if (prev !== undefined && prev.state === status.state && prev.caughtUp === status.caughtUp && prev.detail === status.detail) return;
    view.statuses.set(status.source, status);
    if (prev?.state !== status.state) {
      const line = { source: status.source, state: status.state, detail: status.detail, caughtUp: status.caughtUp };
      if (status.state === 'down' || status.state === 'hung') log.warn(line, 'source status');
      else log.info(line, 'source status');
    }
    apply({ kind: 'source', status });
  };

  clearHandler = (gpu) => {
    const out = apply({ kind: 'clear', gpu });
    if (out.reply?.ok === true) log.info({ gpu: gpu ?? 'all', cleared: out.reply.cleared }, 'operator clear');
    return out.reply ?? { ok: false, error: 'no reply' };
  };

  // Reporters connect in the background; they hold what they are told until then.
  // What they learn about the Node (its condition at the first read, a re-created
  // object, its GPU count) goes to the core, which answers them with the condition.
  const onNode = (facts: NodeFacts): void => {
    const out = apply({ kind: 'node', facts });
    const a = facts.condition;
    if (out.adopted === true && a !== null) log.info({ adopted: { ...a, lastTransitionTime: iso(a.lastTransitionTime) } }, 'adopted the node condition found on the API server');
    if (out.renewed === true) log.info({ lastTransitionTime: iso(core.condition?.lastTransitionTime ?? 0) }, 'a new Node object under this name: the condition starts a new transition time');
  };
  const reporterStarted = reporter.start({ onNode }).catch((err: unknown) => log.error({ err: errorText(err) }, 'reporter failed to start'));
  send(start.notices);
  if (refusedAtStart !== null) refuseRules(refusedAtStart);
  warnIfRisky(core.rules);

  /** The log line for a risky table; its notice comes from the core on a reload, from here at start. */
  function logRisky(table: RuleTable): boolean {
    if (table.risky.length === 0) return false;
    log.warn({ rules: table.origin, risky: table.risky }, 'rule table makes application-caused or unknown codes fatal: a user program can get a healthy node marked broken');
    return true;
  }

  function warnIfRisky(table: RuleTable): void {
    if (!logRisky(table)) return;
    const n = riskyRulesNotice(table, now());
    if (n !== null) send([n]);
  }

  function refuseRules(error: string): void {
    log.error({ rules: config.rules, error }, 'rule file refused; the last good table stays in force');
    apply({ kind: 'rules-refused', file: config.rules ?? '', error });
  }

  let watcher: RuleWatcher | null = null;
  if (config.rules !== null) {
    watcher = watchRuleFile(
      config.rules,
      (table) => {
        view.lastReload = { at: now(), what: 'rules', ok: true, detail: `loaded ${table.origin}` };
        m.ruleReloads.inc({ result: 'ok' });
        log.info({ rules: table.origin, overridden: table.overridden.length }, 'rule file reloaded');
        logRisky(table);
        apply({ kind: 'rules-loaded', table });
      },
      (error) => {
        view.lastReload = { at: now(), what: 'rules', ok: false, detail: error };
        m.ruleReloads.inc({ result: 'refused' });
        refuseRules(error);
      },
    );
  }

  const surface: DebugSurface = {
    liveness: () => {
      const dead = [...view.statuses.values()].filter((s) => (s.source === 'kmsg' || s.source === 'logfile') && s.state === 'down');
      return dead.length === 0
        ? { ok: true, detail: 'kernel-log readers alive' }
        : { ok: false, detail: dead.map((s) => `${s.source} reader down: ${s.detail}`).join('; ') };
    },
    readiness: () =>
      core.ready
        ? { ok: true, detail: 'first full observation cycle done' }
        : { ok: false, detail: `waiting for: ${[...view.statuses.values()].filter((s) => !s.caughtUp).map((s) => s.source).join(', ') || 'sources to start'}` },
    state: async () => {
      // A batch whose verdict is still queued (settleSoon) is decided now, so the
      // view never shows a finding beside a condition that does not count it yet.
      if (settlePending) apply({ kind: 'settle' });
      view.lastWrite = reporter.lastWrite();
      const st = debugState(view, kmsgCursor());
      const uuids = st.gpus.flatMap((g) => (g.uuid === null ? [] : [g.uuid]));
      // Bounded: `status` must answer even when the kubelet does not.
      return withPods(st, await podsForView(opts.pods ?? null, uuids, POD_VIEW_BOUND_MS), config.podResourcesSocket);
    },
    rules: () => rulesView(core.rules, view.lastReload),
    metrics: async () => ({ contentType: m.registry.contentType, body: await m.registry.metrics() }),
  };
  const refusedBy = (listener: string) => ({ onRefused: (why: string) => m.debugRefused.inc({ listener, why }) });
  const debug: DebugServer = await startDebugServer(config.debugAddr, surface, 'all', refusedBy('debug'));
  const metricsAddr = config.metricsAddr;
  const metricsServer: DebugServer | null =
    metricsAddr === null
      ? null
      : await startDebugServer(metricsAddr, surface, 'metrics', refusedBy('metrics')).catch((err: Error) => {
          throw new Error(`metrics listener ${formatListenAddress(metricsAddr)}: ${err.message}`);
        });
  if (metricsServer !== null) log.info({ addr: formatListenAddress(metricsServer.address) }, 'metrics listener serving /metrics');
  log.info({ addr: `${debug.address.host}:${debug.address.port}`, stateDir: config.stateDir, node: config.nodeName, bootId, acceptDrills: config.acceptDrills, dryRun: config.dryRun }, 'debug server listening');

  // The Node's condition, if the API server answers soon: a False newer than a state file
  // that lacks it means the file lost the finding behind it (runtime/core.ts).
  await firstOf(reporterStarted, ADOPT_WAIT_MS);
  const saved = start.savedAt === null ? null : { savedAt: start.savedAt, condition: savedCondition };
  if (!start.readAgain && saved !== null && nodeFalseNewerThanState(core.node, saved)) {
    log.warn(
      { nodeFalseSince: iso(core.node?.lastTransitionTime ?? 0), stateSavedAt: iso(saved.savedAt) },
      'the Node is False since after the state file was saved, which does not say so: reading the kernel log again',
    );
    readAgain(start, saved.savedAt);
  }
  view.sources = opts.sources({ onObservation, onStatus, onRejected }, { cursor: start.cursor, resumed: start.resumed, logFiles: start.logFiles, bootTimeMs, nodeGpus: () => core.nodeGpus });
  for (const s of view.sources) {
    await s.start();
    if (s.status !== undefined) onStatus(s.status());
  }

  const timer = setInterval(() => {
    const t = now();
    for (const s of view.sources) if (s.status !== undefined) onStatus(s.status());
    apply({ kind: 'tick' });
    if (t - lastSaveAt >= CURSOR_SAVE_MS && progress(kmsgCursor(), positions()) !== savedProgress) saver.markDirty();
    for (const left of lines.summaries(t)) {
      log.warn({ what: left.what, notLogged: left.suppressed, since: iso(left.since) }, 'log lines left out by the rate limit; what they reported is in /debug/state and the metrics');
    }
  }, TICK_MS);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(timer);
      watcher?.close();
      await Promise.allSettled(view.sources.map(async (s) => s.stop()));
      saver.markDirty();
      await saver.flush();
      saver.stop();
      await reporter.stop();
      await debug.close();
      await metricsServer?.close();
      await new Promise<void>((resolve) => (control === null ? resolve() : control.close(() => resolve())));
      log.info('stopped');
    })();
    return stopping;
  };

  return { debugAddress: debug.address, metricsAddress: metricsServer?.address ?? null, bootId, stop };
}
