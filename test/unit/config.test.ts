import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, UsageError, type LoadEnv } from '../../agent/config/load.ts';
import { parseDuration, formatDuration } from '../../agent/model/duration.ts';
import { isLoopbackHost, parseListenAddress } from '../../agent/config/address.ts';

function io(files: Record<string, string> = {}, env: Record<string, string> = {}): LoadEnv {
  return {
    env,
    hostname: () => 'host-from-os',
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
  };
}

test('defaults match the documented values', () => {
  const c = loadConfig([], io());
  assert.equal(c.nodeName, 'host-from-os');
  assert.equal(c.kmsg, '/dev/kmsg');
  assert.deepEqual(c.logFiles, []);
  assert.equal(c.stateDir, '/var/lib/gpu-health-agent');
  assert.equal(c.rules, null);
  assert.deepEqual(c.debugAddr, { host: '127.0.0.1', port: 20277 });
  assert.equal(c.acceptDrills, false);
  assert.equal(c.dryRun, false);
  assert.equal(c.conditionType, 'AcceleratedHardwareReady');
  assert.equal(c.heartbeatMs, 300_000);
  assert.equal(c.gpuBackend, 'auto');
  assert.equal(c.dcgmAddress, 'unix:///run/nvidia-dcgm/hostengine.sock');
  assert.equal(c.dcgmIntervalMs, 30_000);
  assert.equal(c.expectedGpus, null);
  assert.equal(c.bootIdFile, '/proc/sys/kernel/random/boot_id');
  assert.equal(c.logLevel, 'info');
});

test('NODE_NAME beats the hostname; --node-name beats both', () => {
  assert.equal(loadConfig([], io({}, { NODE_NAME: 'ip-10-0-0-1' })).nodeName, 'ip-10-0-0-1');
  assert.equal(loadConfig(['--node-name', 'n1'], io({}, { NODE_NAME: 'ip-10-0-0-1' })).nodeName, 'n1');
});

test('flags in both spellings, repeatable --log-file, booleans, kmsg none', () => {
  const c = loadConfig(
    ['--kmsg=none', '--log-file', '/a.log', '--log-file=/b.log', '--accept-drills', '--dry-run=true', '--heartbeat', '1m30s', '--expected-gpus', '8', '--debug-addr', '127.0.0.1:0', '--gpu-backend', 'none'],
    io(),
  );
  assert.equal(c.kmsg, null);
  assert.deepEqual(c.logFiles, ['/a.log', '/b.log']);
  assert.equal(c.acceptDrills, true);
  assert.equal(c.dryRun, true);
  assert.equal(c.heartbeatMs, 90_000);
  assert.equal(c.expectedGpus, 8);
  assert.deepEqual(c.debugAddr, { host: '127.0.0.1', port: 0 });
  assert.equal(c.gpuBackend, 'none');
});

test('config file (YAML and JSON) sets the same keys; flags win over it', () => {
  const yaml = 'nodeName: from-file\nstateDir: /srv/state\nacceptDrills: true\ndcgmInterval: 10s\nlogFile: /k.log\n';
  const c = loadConfig(['--config', '/c.yaml', '--state-dir', '/flag/state'], io({ '/c.yaml': yaml }));
  assert.equal(c.nodeName, 'from-file');
  assert.equal(c.stateDir, '/flag/state');
  assert.equal(c.acceptDrills, true);
  assert.equal(c.dcgmIntervalMs, 10_000);
  assert.deepEqual(c.logFiles, ['/k.log']);
  assert.equal(c.configFile, '/c.yaml');
  const j = loadConfig(['--config=/c.json'], io({ '/c.json': '{"gpuBackend":"nvml","expectedGpus":4}' }));
  assert.equal(j.gpuBackend, 'nvml');
  assert.equal(j.expectedGpus, 4);
});

test('bad input is a UsageError naming the flag or key', () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['--bogus'], {}, /unknown flag --bogus/],
    [['--heartbeat', 'soon'], {}, /--heartbeat: expected a duration/],
    [['--gpu-backend', 'cuda'], {}, /--gpu-backend/],
    [['--expected-gpus', '-1'], {}, /--expected-gpus: expected a whole number/],
    [['--debug-addr', 'localhost'], {}, /--debug-addr: expected host:port/],
    [['--state-dir'], {}, /--state-dir needs a value/],
    [['--dry-run=maybe'], {}, /--dry-run takes no value/],
    [['positional'], {}, /unexpected argument "positional"/],
    [['--config', '/missing.yaml'], {}, /--config \/missing.yaml: ENOENT/],
    [['--config', '/c.yaml'], { '/c.yaml': 'nodeNmae: x\n' }, /\/c.yaml: .*nodeNmae/],
    [['--config', '/c.yaml'], { '/c.yaml': 'heartbeat: 5\n' }, /\/c.yaml: heartbeat/],
    [['--config', '/c.yaml'], { '/c.yaml': '- a\n- b\n' }, /expected a mapping/],
    [['--config', '/c.yaml'], { '/c.yaml': 'a: [\n' }, /not YAML or JSON/],
  ];
  for (const [argv, files, pattern] of cases) {
    assert.throws(() => loadConfig(argv, io(files)), (err: unknown) => err instanceof UsageError && pattern.test(err.message), argv.join(' '));
  }
});

test('durations and addresses', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('0s'), null);
  assert.equal(parseDuration('5'), null);
  assert.equal(parseDuration('5m junk'), null);
  assert.equal(formatDuration(300_000), '5m');
  assert.deepEqual(parseListenAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.equal(parseListenAddress('127.0.0.1:70000'), null);
});

test('metrics listener, native library paths and pod impact flags', () => {
  const d = loadConfig([], io());
  assert.equal(d.metricsAddr, null);
  assert.equal(d.dcgmLib, null);
  assert.equal(d.nvmlLib, null);
  assert.equal(d.podResourcesSocket, '/var/lib/kubelet/pod-resources/kubelet.sock');
  assert.equal(d.podEvents, false);
  const c = loadConfig(['--metrics-addr=0.0.0.0:20278', '--dcgm-lib', '/opt/dcgm/libdcgm.so.3', '--nvml-lib=/x/libnvidia-ml.so.1', '--pod-resources-socket', 'none', '--pod-events'], io());
  assert.deepEqual(c.metricsAddr, { host: '0.0.0.0', port: 20278 });
  assert.equal(c.dcgmLib, '/opt/dcgm/libdcgm.so.3');
  assert.equal(c.nvmlLib, '/x/libnvidia-ml.so.1');
  assert.equal(c.podResourcesSocket, null);
  assert.equal(c.podEvents, true);
  const f = loadConfig(['--config', '/c.yaml'], io({ '/c.yaml': 'metricsAddr: "[::]:9400"\npodResourcesSocket: /k/kubelet.sock\npodEvents: true\ndcgmLib: libdcgm.so.4\n' }));
  assert.deepEqual(f.metricsAddr, { host: '::', port: 9400 });
  assert.equal(f.podResourcesSocket, '/k/kubelet.sock');
  assert.equal(f.podEvents, true);
  assert.throws(() => loadConfig(['--metrics-addr', '20278'], io()), (e: Error) => e instanceof UsageError && /--metrics-addr/.test(e.message));
});

test('loopback hosts are told from addresses others can reach', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.0.2.2', '128.0.0.1', 'node.example', '::ffff:10.0.0.1']) assert.ok(!isLoopbackHost(h), h);
});
