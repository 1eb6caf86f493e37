// The image test for one architecture (amd64.test.ts, arm64.test.ts): the
// Dockerfile's runtime stage built as a root filesystem, then the chart's agent
// container run in it the way the kubelet would, against a real API server,
// probed and exec'd into. Any write outside the state directory, an exit, a
// module that does not load, or a stand-in GPU the agent does not see fails it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, freePort } from '../cluster/harness/cluster.ts';
import { agentIdentity, condition, createNode, getNode, installAgentManifests, uniqueName } from '../cluster/harness/fixtures.ts';
import { startFakeKubelet } from '../helpers/fake-kubelet.ts';
import { marker, seedCursorAtEnd, uniquePci } from '../helpers/kmsg.ts';
import { startEngine } from '../integration/dcgm-harness.ts';
import { addIncident } from '../../scripts/standin/dcgm-control.ts';
import { nvmlControl } from '../../scripts/standin/nvml-control.ts';
import type { DebugState } from '../../agent/runtime/inspect/state-types.ts';
import type { Bind } from './container.ts';
import { buildImage, describeImage, type Image } from './image.ts';
import { IMPORT_ALL } from './import-all.ts';
import { LIB_DIR, hostArch, standins, type Arch } from './layers.ts';
import { startPod, type Pod } from './pod.ts';
import { forbiddenWrites } from './write-audit.ts';
import { errorText } from '../../agent/model/text.ts';

const TYPE = 'AcceleratedHardwareReady';
const STATE_DIR = '/var/lib/gpu-health-agent';
/** Device nodes a container may write: the drill's /dev/kmsg and the usual sinks. */
const DEVICE_WRITES = ['/dev/kmsg', '/dev/null', '/dev/tty', '/dev/pts'];
/** The stand-in NVML's GPUs (native/nvml/nvml_standin.c): bus 0x10 + index, UUID ...5000 + index. */
const NVML_PCI = ['0000:10:00.0', '0000:11:00.0'];
const NVML_UUID = ['GPU-5a5a5a5a-0000-4000-8000-000000005000', 'GPU-5a5a5a5a-0000-4000-8000-000000005001'];

interface Run extends Pod {
  nodeName: string;
  addr: string;
  dir: string;
  hostState: string;
}

export function imageSuite(arch: Arch): void {
  // Under qemu-user every step takes longer.
  const slow = arch === hostArch() ? 1 : 4;
  let image: Image;
  let cluster: Cluster;
  let scratch: string;
  let libs: { nvml: string; dcgm: string };
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), `gha-image-${arch}-`));
    [image, libs, cluster] = await Promise.all([buildImage(arch, scratch), standins(arch), Cluster.forTests()]);
    await installAgentManifests(cluster);
    console.log(describeImage(image));
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await cluster?.release();
    // GPU_HEALTH_AGENT_IMAGE_KEEP=1 keeps the runs' setup scripts and strace logs to look at.
    if (process.env.GPU_HEALTH_AGENT_IMAGE_KEEP === '1') console.log(`# kept ${scratch}`);
    else if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  /**
   * One run of the chart's container on a node of its own: `values(dir)` are the
   * chart values (besides the debug port and host paths, which point into `dir`),
   * `injected(dir)` the files a GPU runtime would add to the container.
   */
  async function start(name: string, values: (dir: string) => object, injected: (dir: string) => Bind[]): Promise<Run> {
    const dir = mkdtempSync(join(scratch, `${name}-`));
    const nodeName = uniqueName(`image-${arch}-${name}`);
    await createNode(cluster.admin(), nodeName);
    const id = await agentIdentity(cluster, nodeName);
    const hostState = join(dir, 'state');
    // The chart mounts the real /dev/kmsg and boot id: start at the ring's end, as
    // an agent that ran before would, so other tests' drills are not replayed.
    await seedCursorAtEnd(hostState, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    const port = await freePort();
    const pod = await startPod({
      image,
      values: { debug: { port }, hostPaths: { stateDir: hostState, podResources: join(dir, 'pod-resources') }, ...values(dir) },
      nodeName,
      scratch: dir,
      cluster,
      token: id.token,
      caCert: readFileSync(cluster.state.caCert),
      injected: injected(dir),
    });
    cleanups.push(() => pod.container.stop(5000));
    return { ...pod, nodeName, addr: `127.0.0.1:${port}`, dir, hostState };
  }

  const tail = (r: Run): string => `\nagent output:\n${r.container.log().slice(-4000)}`;

  async function execOk(r: Run, cmd: string[]): Promise<string> {
    const res = await r.container.exec(cmd, { timeoutMs: 30_000 * slow });
    assert.equal(res.code, 0, `${cmd.join(' ')} exited ${res.code}\n${res.stderr}${res.stdout}${tail(r)}`);
    return res.stdout;
  }

  const status = async (r: Run): Promise<DebugState> => JSON.parse(await execOk(r, ['gpu-health-agent', 'status', '--addr', r.addr, '--json'])) as DebugState;

  /** Polls `fn` until it gives a value; fails at once, with the agent's output, when the agent exits. */
  async function until<T>(r: Run, what: string, fn: () => Promise<T | undefined>, ms = 20_000, seen: () => string = () => ''): Promise<T> {
    const deadline = Date.now() + ms * slow;
    let last: unknown;
    for (;;) {
      if (r.container.exitCode !== undefined) throw new Error(`waiting for ${what}: the agent exited (${r.container.exitCode})${tail(r)}`);
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${ms * slow} ms waiting for ${what}${last === undefined ? '' : `; last error: ${String(last)}`}\n${seen()}${tail(r)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** The chart's startup, liveness and readiness probes, each until it passes, as the kubelet runs them. */
  async function probes(r: Run): Promise<void> {
    for (const [name, cmd] of Object.entries(r.plan.probes)) {
      let last = '';
      try {
        await until(r, `the ${name} probe`, async () => {
          const res = await r.container.exec(cmd, { timeoutMs: 10_000 * slow });
          last = `exit ${res.code} ${res.stdout}${res.stderr}`;
          return res.code === 0 ? true : undefined;
        }, 60_000);
      } catch (err) {
        if (r.container.exitCode !== undefined) throw err;
        const sources = await r.container.exec(['gpu-health-agent', 'status', '--addr', r.addr], { timeoutMs: 10_000 * slow });
        throw new Error(`${errorText(err)}\nlast probe: ${last}\nstatus: ${sources.stdout}${sources.stderr}`, { cause: err });
      }
    }
  }

  /** The condition the agent wrote on its Node (status not asserted: other tests' kernel records reach every agent). */
  const nodeCondition = (r: Run) =>
    until(r, `${TYPE} on the Node`, async () => condition(await getNode(cluster.admin(), r.nodeName), TYPE));

  /** An Event regarding the run's Node, written by the agent, with this reason and note text. */
  const nodeEvent = (r: Run, reason: string, text: string) =>
    until(r, `a ${reason} Event regarding the Node naming ${text}`, async () => {
      const res = await cluster.admin().request<{ items: Array<{ reason: string; note: string; regarding: { name: string } }> }>('GET', '/apis/events.k8s.io/v1/namespaces/default/events');
      return res.body.items.find((e) => e.regarding.name === r.nodeName && e.reason === reason && e.note.includes(text));
    });

  /** Every run ends so: still running, a clean exit on SIGTERM, no write outside the state directory. */
  async function finish(r: Run): Promise<void> {
    assert.equal(r.container.exitCode, undefined, `the agent exited${tail(r)}`);
    assert.equal(await r.container.stop(30_000), 0, `exit code on SIGTERM${tail(r)}`);
    const writes = r.container.writes();
    assert.ok(writes.some((w) => w.path.startsWith(`${STATE_DIR}/`)), `the write audit sees the agent's state writes (it saw ${writes.length} writes)`);
    const paths = [...new Set(writes.map((w) => w.path))].sort();
    console.log(`# ${arch} ${r.nodeName}: ${writes.length} filesystem writes by the agent and ${r.container.execCount} exec'd commands, to: ${paths.join(', ')}`);
    const outside = forbiddenWrites(writes, [STATE_DIR, ...DEVICE_WRITES]);
    assert.deepEqual(outside, [], `writes outside ${STATE_DIR} (the root filesystem is read-only in the chart)`);
    assert.ok(readdirSync(r.hostState).length > 0, 'the host path holds the agent state');
  }

  test(`${arch}: the runtime stage adds only image/contents.txt, through image/assemble.sh`, () => {
    const { instructions, entrypoint, workdir } = image.config;
    assert.deepEqual(instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD'), [], 'no COPY or ADD in the runtime stage: contents.txt lists what goes in');
    assert.equal(instructions.filter((i) => i.op === 'RUN' && /image\/assemble\.sh app /.test(i.args)).length, 1, 'one RUN of assemble.sh app');
    assert.equal(workdir, '/app');
    assert.equal(image.config.user, 'root', 'the container runs as root, as the chart\'s runAsUser: 0 (and this test) does');
    assert.ok(existsSync(join(image.app, entrypoint.at(-1)!)), `the ENTRYPOINT's script (${entrypoint.join(' ')}) is in the image`);
  });

  test(`${arch}: the chart's container with NVML and drills: probes, status, drill, clear, rules validate, every module loads`, async () => {
    const control = (dir: string): string => join(dir, 'nvml-standin', 'control');
    const r = await start(
      'nvml',
      (dir) => {
        mkdirSync(join(dir, 'nvml-standin'));
        nvmlControl(control(dir)).gpus(2);
        return {
          acceptDrills: true,
          expectedGpus: 2,
          rules: { overrides: { xid: { '43': { severity: 'fatal', action: 'RESET_GPU' } } } },
          // The stand-in reads its faults from a file; the chart's extension points carry it in.
          extraEnv: [{ name: 'NVML_STANDIN_CONTROL', value: '/run/nvml-standin/control' }],
          extraVolumes: [{ name: 'nvml-standin', hostPath: { path: join(dir, 'nvml-standin'), type: 'Directory' } }],
          extraVolumeMounts: [{ name: 'nvml-standin', mountPath: '/run/nvml-standin', readOnly: true }],
        };
      },
      // What the NVIDIA container toolkit mounts for NVIDIA_VISIBLE_DEVICES: the driver's NVML.
      () => [{ path: `${LIB_DIR[arch]}/libnvidia-ml.so.1`, source: libs.nvml, readOnly: true }],
    );
    mkdirSync(join(r.dir, 'pod-resources'), { recursive: true });
    const kubelet = await startFakeKubelet(join(r.dir, 'pod-resources', 'kubelet.sock'), [{ namespace: 'ml', name: 'trainer-0', containers: { main: [NVML_UUID[0]!] } }]);
    cleanups.push(() => kubelet.stop());
    await probes(r);
    await nodeCondition(r);
    assert.equal((await execOk(r, ['node', '-p', 'process.arch'])).trim(), arch === 'amd64' ? 'x64' : 'arm64', 'the image\'s node is the target architecture\'s');

    // The stand-in's GPUs through the koffi binding (nvmlPciInfo_t, UUIDs) in this ABI.
    const seen = await until(r, 'both stand-in GPUs in /debug/state', async () => {
      const s = await status(r);
      return NVML_PCI.every((pci) => s.gpus.some((g) => g.pci === pci)) ? s : undefined;
    });
    assert.deepEqual(NVML_PCI.map((pci) => seen.gpus.find((g) => g.pci === pci)?.uuid), NVML_UUID);
    // The status table, with the pod the fake kubelet's pod-resources socket names
    // (the agent loads @grpc/grpc-js and the .proto only for this).
    let pods = '';
    const table = await until(r, 'the pod of GPU 0 in `gpu-health-agent status`', async () => {
      pods = `podResources in /debug/state: ${JSON.stringify((await status(r)).podResources)}`;
      const t = await execOk(r, ['gpu-health-agent', 'status', '--addr', r.addr]);
      return /ml\/trainer-0/.test(t) ? t : undefined;
    }, 20_000, () => pods);
    assert.match(table, new RegExp(`node ${r.nodeName}: ${TYPE}=`));

    // drill, as README's rehearsal does with kubectl exec: a fatal Xid, on a PCI
    // address of its own (other agents on this machine read the same kernel log).
    const pci = uniquePci();
    await execOk(r, ['gpu-health-agent', 'drill', '--xid', '79', '--pci', pci, '--text', marker()]);
    await until(r, 'the drill in /debug/state', async () => {
      const g = (await status(r)).gpus.find((x) => x.pci === pci);
      return g?.findings.some((f) => f.drill && f.reason === 'NvidiaXID79Error') ? true : undefined;
    });
    assert.equal((await nodeCondition(r)).status, 'False', 'a fatal drill sets the condition False');
    await nodeEvent(r, 'NvidiaXID79Error', pci);

    // An Xid event from the stand-in NVML (nvmlEventData_t through koffi) on GPU 1.
    nvmlControl(control(r.dir)).xid(1, 48);
    await until(r, 'the NVML Xid 48 on GPU 1', async () => {
      const g = (await status(r)).gpus.find((x) => x.pci === NVML_PCI[1]);
      return g?.findings.some((f) => f.reason === 'NvidiaXID48Error' && f.sources.includes('nvml')) ? true : undefined;
    });

    // An operator clear over the control socket in the state directory.
    await execOk(r, ['gpu-health-agent', 'clear', '--gpu', NVML_PCI[1]!]);
    await until(r, 'GPU 1 clear', async () => ((await status(r)).gpus.find((x) => x.pci === NVML_PCI[1])?.findings.length === 0 ? true : undefined));

    // The rendered ConfigMap, where the chart mounts it.
    const rulesFile = '/etc/gpu-health-agent/rules/overrides.yaml';
    assert.equal(readFileSync(join(r.plan.mounts.find((m) => m.kind === 'configMap')!.source, 'overrides.yaml'), 'utf8'), r.plan.rules['overrides.yaml']);
    assert.match(await execOk(r, ['gpu-health-agent', 'rules', 'validate', rulesFile]), /ok|valid/i);
    assert.match(await execOk(r, ['gpu-health-agent', 'rules', 'explain', 'xid:43', '--rules', rulesFile]), /fatal/);

    const loaded = JSON.parse(await execOk(r, ['node', '--input-type=module', '-e', IMPORT_ALL, `${image.config.workdir}/dist/agent`])) as { modules: number; failed: string[] };
    assert.deepEqual(loaded.failed, []);
    assert.ok(loaded.modules > 50, `${loaded.modules} modules`);
    await finish(r);
  });

  test(`${arch}: the chart's container with DCGM as a sidecar (the stand-in host engine and libdcgm.so.4)`, async () => {
    const r = await start(
      'dcgm',
      () => ({ dcgm: { mode: 'sidecar', interval: '1s' }, expectedGpus: 2 }),
      // DCGM's package would put libdcgm.so.4 here; NVIDIA's repository is out of reach, so the stand-in.
      (dir) => {
        mkdirSync(join(dir, 'dcgm-lib'));
        copyFileSync(libs.dcgm, join(dir, 'dcgm-lib', 'libdcgm.so.4'));
        return [{ path: `${LIB_DIR[arch]}/libdcgm.so.4`, source: join(dir, 'dcgm-lib', 'libdcgm.so.4'), readOnly: true }];
      },
    );
    // The sidecar's socket directory is the chart's emptyDir, shared with nv-hostengine.
    const socketDir = r.plan.mounts.find((m) => m.name === 'dcgm-socket');
    assert.equal(socketDir?.kind, 'emptyDir');
    const engine = await startEngine(join(socketDir.source, 'hostengine.sock'), 2);
    cleanups.push(() => engine.stop());
    await probes(r);
    await nodeCondition(r);
    const up = await until(r, 'the DCGM source up with both GPUs', async () => {
      const s = await status(r);
      // By index: GPUs that other tests' kernel records name have none.
      return s.sources.some((x) => x.source === 'dcgm' && x.state === 'up') && [0, 1].every((i) => s.gpus.some((g) => g.index === i && g.pci !== null && g.uuid !== null)) ? s : undefined;
    });
    const gpu1 = up.gpus.find((g) => g.index === 1);
    assert.ok(gpu1?.pci, `GPU 1 has a PCI address from DCGM: ${JSON.stringify(up.gpus)}`);
    const text = `image test ${arch} ${marker()}`;
    await addIncident(engine.socket, { gpu: 1, system: 'mem', result: 'fail', code: 95, message: text, entityGroup: 1 });
    await until(r, 'the DCGM incident on GPU 1', async () => {
      const g = (await status(r)).gpus.find((x) => x.pci === gpu1.pci);
      return g?.findings.some((f) => f.reason === 'DCGMHealthCode95' && f.sources.includes('dcgm')) ? true : undefined;
    });
    await nodeEvent(r, 'DCGMHealthCode95', gpu1.pci);
    await finish(r);
  });
}
