// The running agent: sources -> health (classification inside) -> reporters,
// on one event loop. Everything here is wiring and bookkeeping; decisions are
// made by the pure health core, with time passed in.
//
// Order of start: boot id, rules, persisted state (findings, cursor, condition),
// the control socket (one agent per state dir), reporters, the debug server,
// then the sources. No condition is handed to a reporter before isReady():
// the kernel log has been replayed and every source finished its first cycle.
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/load.ts';
import { formatListenAddress, type ListenAddress } from '../config/address.ts';
import type { Observation } from '../model/evidence.ts';
import type { SourceStatus } from '../model/source-status.ts';
import type { NodeVerdict, Notice } from '../model/verdict.ts';
import {
  clearFindings,
  describeHealth,
  emptyHealth,
  fromSnapshot,
  isReady,
  learnDevices,
  observe,
  tick,
  toSnapshot,
  updateSource,
  verdictOf,
  type HealthState,
} from '../health/index.ts';
import { actionOf, reasonOf, severityOf } from '../health/describe.ts';
import { loadDefaults, loadRuleFile } from '../rules/load.ts';
import { watchRuleFile, type RuleWatcher } from '../rules/watch.ts';
import type { RuleTable } from '../rules/types.ts';
import { createMetrics, type AgentMetrics } from '../report/debug/metrics.ts';
import { startDebugServer, type DebugServer, type DebugSurface } from '../report/debug/server.ts';
import { debugState, rulesView, withPods } from '../report/debug/views.ts';
import { readBootId } from './boot-id.ts';
import { readBootTime } from './boot-time.ts';
import { nextCondition, sameCondition } from './condition.ts';
import { listenControlSocket, type ControlReply } from './control-socket.ts';
import { podsForView, type PodLookup } from './pod-impact.ts';
import { createSaver, type Saver } from './saver.ts';
import { scanNvidiaFunctions } from '../sources/sysfs/nvidia-devices.ts';
import { riskyKernelSettings } from '../sources/kmsg/kernel-settings.ts';
import { readStateFile, writeStateFile, type ConditionRecord, type KmsgCursor, type LogFilePosition } from './state-file.ts';
import type { RejectedRecord, Reporter, Source, SourceCallbacks, WriteRecord } from './types.ts';

/** Housekeeping period: quiet windows, source status polls, readiness. 1 s keeps an idle agent idle. */
export const TICK_MS = 1000;
/** Changes within this long are one state-file write. */
export const SAVE_DELAY_MS = 200;
/** /debug/state waits at most this long for the kubelet's pod list. */
const POD_VIEW_BOUND_MS = 1000;
/** A cursor or log-file offset that moved without any finding is persisted at most this often. */
const CURSOR_SAVE_MS = 10_000;
/** sysfs is listed again this often, for devices that appear after start. */
const DEVICE_SCAN_MS = 60_000;
/** Rejected kernel records kept for /debug/state. */
const RECENT_REJECTED = 8;

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

/** What sources start from: the persisted kmsg cursor and log-file positions. */
export interface SourceStart {
  cursor: KmsgCursor | null;
  resumed: boolean;
  logFiles: LogFilePosition[];
  /** This boot's start (ms since the epoch); null when it could not be read. */
  bootTimeMs: number | null;
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
  health: HealthState;
  rules: RuleTable;
  ready: boolean;
  condition: ConditionRecord | null;
  sources: Source[];
  statuses: Map<string, SourceStatus>;
  lastWrite: WriteRecord | null;
  persisted: WriteRecord | null;
  lastReload: WriteRecord | null;
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
      log.warn({ uptimeFile: config.uptimeFile, err: (err as Error).message }, 'cannot tell when this boot began; log-file lines of earlier boots will count');
    }
  }

  // Rules: the defaults, with the override file when it is valid.
  let rules = loadDefaults();
  let lastReload: WriteRecord | null = null;
  const ruleRefusals: string[] = [];
  if (config.rules !== null) {
    const loaded = await loadRuleFile(config.rules);
    if (loaded.ok) {
      rules = loaded.table;
      lastReload = { at: now(), what: 'rules', ok: true, detail: `loaded ${rules.origin}` };
    } else {
      ruleRefusals.push(loaded.error);
      lastReload = { at: now(), what: 'rules', ok: false, detail: loaded.error };
    }
  }

  // Claim the state dir first: a second agent on it fails here, before it touches the state file.
  let clearHandler: ((gpu: string | undefined) => ControlReply) | null = null;
  const control: Server = await listenControlSocket(config.stateDir, (req) =>
    clearHandler === null ? { ok: false, error: 'the agent is still starting' } : clearHandler(req.gpu),
  );

  // Persisted state. A corrupt file is a warning and a clean start, never a crash.
  const startedAt = now();
  const file = await readStateFile(config.stateDir);
  for (const w of file.warnings) log.warn({ stateDir: config.stateDir }, w);
  let health: HealthState;
  let condition: ConditionRecord | null = null;
  let cursor: KmsgCursor | null = null;
  const startNotices: Notice[] = [];
  if (file.doc !== null) {
    const restored = fromSnapshot(file.doc.health, bootId, rules, startedAt);
    for (const w of restored.warnings) log.warn({ stateDir: config.stateDir }, w);
    health = restored.state;
    startNotices.push(...restored.notices);
    condition = file.doc.condition;
    cursor = file.doc.cursor !== null && file.doc.cursor.bootId === bootId ? file.doc.cursor : null;
    const rebooted = file.doc.bootId !== bootId;
    log.info(
      { bootId, previousBootId: file.doc.bootId, rebooted, cursor, findings: describeHealth(health).totals },
      rebooted ? 'state restored after a reboot: findings that a reboot clears are gone' : 'state restored',
    );
  } else {
    health = emptyHealth(bootId);
  }
  const resumed = file.doc !== null && file.doc.bootId === bootId;
  // Before the kernel log is replayed: which NVIDIA devices this node has.
  const scanDevices = (state: HealthState): void => {
    const scan = scanNvidiaFunctions(config.sysfsRoot);
    const before = state.devices.known.size;
    learnDevices(state, scan.devices.map((d) => d.pci), 'sysfs');
    if (scan.error !== null) log.warn({ sysfsRoot: config.sysfsRoot, err: scan.error }, 'cannot list PCI devices');
    else if (state.devices.known.size !== before || !devicesLogged) {
      devicesLogged = true;
      const gpus = scan.devices.filter((d) => d.kind === 'gpu').length;
      log[state.devices.listed ? 'info' : 'warn'](
        { sysfsRoot: config.sysfsRoot, gpus, switches: scan.devices.length - gpus, known: state.devices.known.size },
        state.devices.listed ? 'NVIDIA devices of this node' : 'sysfs lists no NVIDIA device: kernel records are checked by their format alone',
      );
    }
  };
  let devicesLogged = false;
  scanDevices(health);
  const kernelRisks = config.kmsg === null ? [] : riskyKernelSettings();
  for (const risk of kernelRisks) log.warn({ setting: risk }, 'a kernel setting weakens the kernel log as evidence');

  const view: AgentView = {
    config,
    bootId,
    health,
    rules,
    ready: false,
    condition,
    sources: [],
    statuses: new Map(),
    lastWrite: null,
    persisted: null,
    lastReload,
    rejected: [],
  };
  const reporters = opts.reporters;

  const sumStats = (pick: 'drillsIgnored' | 'recordsRead' | 'recordsLost'): number => view.sources.reduce((n, s) => n + (s.stats?.()[pick] ?? 0), 0);
  const m: AgentMetrics = createMetrics({
    sources: () =>
      [...view.statuses.values()].map((status) => {
        const st = view.sources.find((s) => s.name === status.source)?.stats?.();
        const skipped = st?.skippedPreviousBoot;
        const foreign = view.health.devices.foreign[status.source] ?? 0;
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
      for (const g of describeHealth(view.health).gpus) {
        for (const f of g.findings) {
          const k = `${f.reason}|${f.severity}|${f.drill}`;
          const c = counts.get(k);
          if (c === undefined) counts.set(k, { reason: f.reason, severity: f.severity, drill: f.drill, count: 1 });
          else c.count += 1;
        }
      }
      return [...counts.values()];
    },
    findingsEvicted: () => view.health.evicted,
    drillsIgnored: () => sumStats('drillsIgnored'),
    devicesKnown: () => view.health.devices.known.size,
    condition: () => (view.condition === null ? null : { type: config.conditionType, status: view.condition.status }),
    ready: () => view.ready,
  });
  for (const _ of ruleRefusals) m.ruleReloads.inc({ result: 'refused' });
  if (lastReload?.ok === true) m.ruleReloads.inc({ result: 'ok' });

  // Persistence: health + cursor + condition in one atomic file.
  const logFiles: LogFilePosition[] = file.doc?.logFiles ?? [];
  // Reading progress (kmsg cursor, log-file offsets) as one string, to see whether it moved since the last write.
  const positions = (): LogFilePosition[] => view.sources.flatMap((s) => s.positions?.() ?? []);
  const progress = (c: KmsgCursor | null, p: LogFilePosition[]): string => `${c?.seq ?? ''}|${p.map((x) => `${x.ino}:${x.offset}`).join(',')}`;
  let savedProgress = progress(cursor, logFiles);
  let lastSaveAt = 0;
  const kmsgCursor = (): KmsgCursor | null => view.sources.find((s) => s.cursor !== undefined)?.cursor?.() ?? cursor;
  const saver: Saver = createSaver(
    async () => {
      const c = kmsgCursor();
      // Sources not started yet (a write before start): keep the positions read at start.
      const p = view.sources.length === 0 ? logFiles : positions();
      const doc = { bootId, savedAt: now(), health: toSnapshot(view.health), cursor: c, condition: view.condition, logFiles: p };
      await writeStateFile(config.stateDir, doc);
      savedProgress = progress(c, p);
    },
    SAVE_DELAY_MS,
    (err) => {
      lastSaveAt = now();
      m.stateWrites.inc({ result: err === null ? 'ok' : 'error' });
      view.persisted = { at: lastSaveAt, what: 'state', ok: err === null, detail: err === null ? `${config.stateDir}/state.json` : err.message };
      if (err !== null) log.error({ err: err.message, stateDir: config.stateDir }, 'cannot write the state file; will retry');
    },
  );

  const send = (notices: Notice[]): void => {
    for (const n of notices) {
      m.notices.inc({ type: n.type, drill: String(n.drill) });
      for (const r of reporters) r.notice(n);
    }
  };

  let lastVerdict: NodeVerdict | null = null;
  /** After any change: readiness, then (once ready) the condition and the reporters. */
  const settle = (t: number): void => {
    if (!view.ready && isReady(view.health) && view.sources.every((s) => s.settled?.() ?? true)) {
      view.ready = true;
      log.info({ tookMs: t - startedAt, sources: [...view.statuses.values()].map((s) => `${s.source}:${s.state}`) }, 'first full observation cycle done; ready');
    }
    if (!view.ready) return;
    const v = verdictOf(view.health, t);
    const next = nextCondition(view.condition, v, t);
    if (!sameCondition(view.condition, next)) {
      const flipped = view.condition?.status !== next.status;
      view.condition = next;
      saver.markDirty();
      if (flipped) log.info({ condition: { type: config.conditionType, ...next, lastTransitionTime: new Date(next.lastTransitionTime).toISOString() } }, 'condition changed');
    }
    if (lastVerdict === null || lastVerdict.status !== v.status || lastVerdict.reason !== v.reason || lastVerdict.message !== v.message) {
      lastVerdict = v;
      for (const r of reporters) r.setVerdict(v, t);
    }
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

  const onObservation = (obs: Observation): void => {
    const t = now();
    m.observations.inc({ source: obs.source, kind: obs.evidence.kind, drill: String(obs.drill) });
    const r = observe(view.health, obs, view.rules, t);
    view.health = r.state;
    const foreign = r.notices.find((n) => n.reason === 'GPUHealthRecordRejected');
    if (foreign !== undefined && firstOfKind(`${obs.source}/foreign-device`)) {
      log.warn({ source: obs.source, note: foreign.note }, 'kernel record names no NVIDIA device of this node: not evidence; more of this kind are only counted');
    }
    if (r.finding !== null && r.finding.counted) {
      const { gpu, id, finding: f } = r.finding;
      // One info line per finding; its repeats (an Xid storm) only at debug level.
      log[f.count === 1 ? 'info' : 'debug'](
        {
          finding: { id, reason: reasonOf(f), severity: severityOf(f), action: actionOf(f), count: f.count, firstSeen: f.firstSeen, lastSeen: f.lastSeen, detail: f.detail },
          gpu: { pci: gpu.pci, uuid: gpu.uuid, index: gpu.index },
          source: obs.source,
          drill: obs.drill,
        },
        'finding',
      );
    }
    send(r.notices);
    saver.markDirty();
    settleSoon();
  };

  // A batch of kernel records arrives in one callback: decide once after it,
  // in the same turn of the event loop, instead of once per record.
  let settlePending = false;
  const settleSoon = (): void => {
    if (settlePending) return;
    settlePending = true;
    setImmediate(() => {
      settlePending = false;
      settle(now());
    });
  };


  const onStatus = (reported: SourceStatus): void => {
    // Where no device is known, a kernel record is judged by its format alone: the source status says so.
    const kernelLog = (reported.source === 'kmsg' || reported.source === 'logfile') && reported.state === 'up';
    const notes = [
      ...(kernelLog && !view.health.devices.listed ? ['sysfs lists no NVIDIA device: records checked by their format alone'] : []),
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
    const t = now();
    const r = updateSource(view.health, status, t);
    view.health = r.state;
    send(r.notices);
    settle(t);
  };

  const clear = (gpu: string | undefined): ControlReply => {
    const t = now();
    const r = clearFindings(view.health, gpu === undefined ? {} : { gpu }, t);
    view.health = r.state;
    if (!r.matched) return { ok: false, error: `no GPU named ${gpu}` };
    log.info({ gpu: gpu ?? 'all', cleared: r.cleared }, 'operator clear');
    send(r.notices);
    saver.markDirty();
    settle(t);
    const what = gpu === undefined ? 'all GPUs' : `GPU ${gpu}`;
    return { ok: true, cleared: r.cleared, detail: `cleared ${r.cleared} finding(s) on ${what}; condition now ${view.condition?.status ?? 'not decided (agent not ready)'}` };
  };

  clearHandler = clear;

  // Reporters connect in the background; they hold what they are told until then.
  for (const r of reporters) {
    void r
      .start?.((adopted) => adopt({ adopted }))
      .then((result) => adopt(result))
      .catch((err: Error) => log.error({ reporter: r.name, err: err.message }, 'reporter failed to start'));
  }

  /**
   * The node's condition as the API server has it: when this agent has no record
   * of its own (a new state dir) or agrees on the status, its transition time is
   * the one to keep, so a restart never moves it. The same for a re-created
   * Node's new time, so a restart does not bring the old one back.
   */
  function adopt(result: unknown): void {
    const a = (result as { adopted?: { status: string; reason: string; lastTransitionTime: string } } | undefined)?.adopted;
    if (a === undefined) return;
    const ltt = Date.parse(a.lastTransitionTime);
    if (!Number.isFinite(ltt) || (a.status !== 'True' && a.status !== 'False' && a.status !== 'Unknown')) return;
    if (view.condition?.status === a.status && view.condition.lastTransitionTime === ltt) return;
    if (view.condition === null) view.condition = { status: a.status, reason: a.reason, message: '', lastTransitionTime: ltt };
    else if (view.condition.status === a.status) view.condition = { ...view.condition, lastTransitionTime: ltt };
    else return;
    log.info({ adopted: a }, 'adopted the node condition found on the API server');
    saver.markDirty();
  }
  send(startNotices);
  for (const err of ruleRefusals) refuseRules(err);

  function refuseRules(error: string): void {
    log.error({ rules: config.rules, error }, 'rule file refused; the last good table stays in force');
    send([
      {
        type: 'Warning',
        reason: 'GPUHealthRulesRefused',
        note: `Rule file ${config.rules} refused, still using ${view.rules.origin}: ${error}`.slice(0, 1024),
        key: 'rules/refused',
        at: now(),
        drill: false,
        gpuUuids: [],
      },
    ]);
  }

  let watcher: RuleWatcher | null = null;
  if (config.rules !== null) {
    watcher = watchRuleFile(
      config.rules,
      (table) => {
        view.rules = table;
        view.lastReload = { at: now(), what: 'rules', ok: true, detail: `loaded ${table.origin}` };
        m.ruleReloads.inc({ result: 'ok' });
        log.info({ rules: table.origin, overridden: table.overridden.length }, 'rule file reloaded');
        // tick() re-classifies existing findings against the new table.
        const t = now();
        const r = tick(view.health, view.rules, t);
        view.health = r.state;
        send(r.notices);
        saver.markDirty();
        settle(t);
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
      view.ready
        ? { ok: true, detail: 'first full observation cycle done' }
        : { ok: false, detail: `waiting for: ${[...view.statuses.values()].filter((s) => !s.caughtUp).map((s) => s.source).join(', ') || 'sources to start'}` },
    state: async () => {
      // A batch whose verdict is still queued (settleSoon) is decided now, so the
      // view never shows a finding beside a condition that does not count it yet.
      if (settlePending) settle(now());
      view.lastWrite = latestWrite(reporters);
      const st = debugState(view, kmsgCursor());
      const uuids = st.gpus.flatMap((g) => (g.uuid === null ? [] : [g.uuid]));
      // Bounded: `status` must answer even when the kubelet does not.
      return withPods(st, await podsForView(opts.pods ?? null, uuids, POD_VIEW_BOUND_MS), config.podResourcesSocket);
    },
    rules: () => rulesView(view.rules, view.lastReload),
    metrics: async () => ({ contentType: m.registry.contentType, body: await m.registry.metrics() }),
  };
  const debug: DebugServer = await startDebugServer(config.debugAddr, surface);
  const metricsAddr = config.metricsAddr;
  const metricsServer: DebugServer | null =
    metricsAddr === null
      ? null
      : await startDebugServer(metricsAddr, surface, 'metrics').catch((err: Error) => {
          throw new Error(`metrics listener ${formatListenAddress(metricsAddr)}: ${err.message}`);
        });
  if (metricsServer !== null) log.info({ addr: formatListenAddress(metricsServer.address) }, 'metrics listener serving /metrics');
  log.info({ addr: `${debug.address.host}:${debug.address.port}`, stateDir: config.stateDir, node: config.nodeName, bootId, acceptDrills: config.acceptDrills, dryRun: config.dryRun }, 'debug server listening');

  view.sources = opts.sources({ onObservation, onStatus, onRejected }, { cursor, resumed, logFiles, bootTimeMs });
  for (const s of view.sources) {
    await s.start();
    if (s.status !== undefined) onStatus(s.status());
  }

  let lastDeviceScan = now();
  const timer = setInterval(() => {
    const t = now();
    if (t - lastDeviceScan >= DEVICE_SCAN_MS) {
      lastDeviceScan = t;
      scanDevices(view.health);
    }
    for (const s of view.sources) if (s.status !== undefined) onStatus(s.status());
    const r = tick(view.health, view.rules, t);
    view.health = r.state;
    if (r.notices.length > 0) {
      send(r.notices);
      saver.markDirty();
    }
    if (t - lastSaveAt >= CURSOR_SAVE_MS && progress(kmsgCursor(), positions()) !== savedProgress) saver.markDirty();
    settle(t);
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
      await Promise.allSettled(reporters.map(async (r) => r.stop()));
      await debug.close();
      await metricsServer?.close();
      await new Promise<void>((resolve) => control.close(() => resolve()));
      log.info('stopped');
    })();
    return stopping;
  };

  return { debugAddress: debug.address, metricsAddress: metricsServer?.address ?? null, bootId, stop };
}

function latestWrite(reporters: Reporter[]): WriteRecord | null {
  let best: WriteRecord | null = null;
  for (const r of reporters) {
    const w = r.lastWrite?.() ?? null;
    if (w !== null && (best === null || w.at > best.at)) best = w;
  }
  return best;
}
