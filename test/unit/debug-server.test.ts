import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startDebugServer, type DebugSurface } from '../../agent/runtime/inspect/server.ts';
import { createMetrics } from '../../agent/runtime/inspect/metrics.ts';

function call(port: number, method: string, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('debug server: probes, JSON, metrics, read-only, bound to loopback', async () => {
  let alive = true;
  let ready = false;
  const metrics = createMetrics({
    sources: () => [{ source: 'kmsg', up: alive, recordsRead: 1234, recordsLost: 5 }],
    findings: () => [{ reason: 'NvidiaXID79Error', severity: 'fatal', drill: true, count: 2 }],
    findingsEvicted: () => 7,
    drillsIgnored: () => 3,
    devicesKnown: () => 0,
    condition: () => ({ type: 'AcceleratedHardwareReady', status: 'False' }),
    ready: () => ready,
    persistence: () => ({ ok: false, controlSocket: { ok: true } }),
    rulesRisky: () => 2,
    linesSuppressed: () => [{ what: 'finding', count: 9 }],
  });
  metrics.ruleReloads.inc({ result: 'refused' });
  const surface: DebugSurface = {
    liveness: () => ({ ok: alive, detail: alive ? 'all readers alive' : 'kmsg: reader died' }),
    readiness: () => ({ ok: ready, detail: ready ? 'ready' : 'replaying' }),
    state: () => ({ condition: { status: 'False' } }),
    rules: () => ({ origin: 'defaults' }),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  };
  const server = await startDebugServer({ host: '127.0.0.1', port: 0 }, surface);
  try {
    const port = server.address.port;
    assert.equal(server.address.host, '127.0.0.1');
    assert.ok(port > 0);

    assert.equal((await call(port, 'GET', '/healthz')).status, 200);
    assert.equal((await call(port, 'GET', '/readyz')).status, 503);
    alive = false;
    ready = true;
    const h = await call(port, 'GET', '/healthz');
    assert.equal(h.status, 503);
    assert.match(h.body, /kmsg: reader died/);
    assert.equal((await call(port, 'GET', '/readyz')).status, 200);

    const st = await call(port, 'GET', '/debug/state?x=1');
    assert.equal(st.status, 200);
    assert.match(st.type, /application\/json/);
    assert.deepEqual(JSON.parse(st.body), { condition: { status: 'False' } });
    assert.deepEqual(JSON.parse((await call(port, 'GET', '/debug/rules')).body), { origin: 'defaults' });

    const m = await call(port, 'GET', '/metrics');
    assert.equal(m.status, 200);
    for (const line of [
      'gpu_health_records_read_total{source="kmsg"} 1234',
      'gpu_health_records_lost_total{source="kmsg"} 5',
      'gpu_health_source_up{source="kmsg"} 0',
      'gpu_health_findings{reason="NvidiaXID79Error",severity="fatal",drill="true"} 2',
      'gpu_health_findings_evicted_total 7',
      'gpu_health_condition_status{type="AcceleratedHardwareReady",status="False"} 1',
      'gpu_health_condition_status{type="AcceleratedHardwareReady",status="True"} 0',
      'gpu_health_rule_reloads_total{result="refused"} 1',
      'gpu_health_ready 1',
      'gpu_health_drills_ignored_total 3',
      'gpu_health_state_persisted 0',
      'gpu_health_rules_risky 2',
      'gpu_health_log_lines_suppressed_total{what="finding"} 9',
      'gpu_health_control_socket_up 1',
    ]) {
      assert.ok(m.body.includes(line), `metrics lack ${line}`);
    }

    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await call(port, method, '/debug/state');
      assert.equal(r.status, 405, method);
    }
    assert.equal((await call(port, 'GET', '/nope')).status, 404);
    const head = await call(port, 'HEAD', '/healthz');
    assert.equal(head.body, '');
  } finally {
    await server.close();
  }
});
