// D5: idle loopback connections against the debug endpoint; minor: a non-loopback --debug-addr.
import { startLogFileAgent } from '../../helpers/logfile-agent.ts';
import { fdCount, rssMiB } from '../../helpers/proc.ts';
import { holdIdleConnections, probe } from '../../helpers/sockets.ts';
import { mib, outcome, type Scenario } from '../scenario.ts';

const IDLE = 6000;

export const scenarios: Scenario[] = [
  {
    name: `debug endpoint: ${IDLE.toLocaleString('en')} idle loopback connections`,
    ref: 'D5',
    expected: '/healthz 200 throughout; <= 32 held; refusals counted',
    async run() {
      // 2,048 descriptors: what 20,000 connections did to the pod's limit, 6,000 do here.
      const agent = await startLogFileAgent([], { wrap: ['prlimit', '--nofile=2048:2048'] });
      try {
        const pid = agent.a.proc.pid as number;
        const rssBefore = rssMiB(pid);
        const idle = await holdIdleConnections(agent.a.port, IDLE);
        try {
          const probes = [];
          for (let i = 0; i < 5; i++) probes.push(await probe(`http://${agent.a.addr}/healthz`));
          const fds = fdCount(pid);
          const grew = rssMiB(pid) - rssBefore;
          const metrics = await agent.a.get('/metrics').then((r) => r.body, (e: Error) => `(no metrics: ${e.message})`);
          const refused = Number(/^gpu_health_debug_connections_refused_total\{listener="debug",why="capacity"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
          const ok = probes.every((p) => p.status === 200) && fds < 200 && refused >= IDLE - 100;
          return outcome(ok, `/healthz ${probes.map((p) => p.status).join(',')}; ${fds} fds; ${refused} refused`, `healthz max ${Math.max(...probes.map((p) => p.ms))} ms, RSS +${mib(grew)}`);
        } finally {
          idle.close();
        }
      } finally {
        await agent.dispose();
      }
    },
  },
  {
    name: 'debug endpoint: --debug-addr 0.0.0.0',
    ref: 'minor',
    expected: 'a warning at start',
    async run() {
      const agent = await startLogFileAgent(['--debug-addr', '0.0.0.0:0']);
      try {
        const warned = agent.a.lines.filter((l) => l.level === 40 && String(l.msg).startsWith('--debug-addr is not a loopback address')).length;
        return outcome(warned === 1, `${warned} warning`, '-');
      } finally {
        await agent.dispose();
      }
    },
  },
];
