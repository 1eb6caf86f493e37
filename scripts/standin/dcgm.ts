// `npm run standin:dcgm -- ...`: runs the STAND-IN DCGM host engine, or drives a
// running one the way `dcgmi test --inject` drives nv-hostengine.
//
//   serve (default)  --socket PATH [--port N] [--gpus N] [--without-fields F,F]  (fields an older DCGM lacks)
//   inject           --socket PATH --gpu I --field F --value V [--type i|d|s] [--offset SEC]
//   incident         --socket PATH --gpu I --system mem|pcie|nvlink|...|all|NUM --result warn|fail
//                    --code N --message TEXT [--entity-group N]
//   hang             --socket PATH on|off      (engine stops answering library calls)
//   garbage          --socket PATH bytes|values|off
//   fabric           --socket PATH --gpu I [--manager failure|in-progress|...|N] [--mask N]
//                    (NVSwitch fabric: fields 170 and 174, as the GPU's driver would report them)
//   gpus             --socket PATH --count N   (GPUs the engine reports as present)
//   clear            --socket PATH             (drops incidents and injected values)
//   state            --socket PATH
import { parseArgs } from 'node:util';
import { DcgmStandinEngine } from './dcgm-engine.ts';
import { addIncident, clearEngine, engineState, injectField, setFabric, setGarbage, setHang, setVisibleGpus } from './dcgm-control.ts';
import { errorText } from '../../agent/model/text.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    socket: { type: 'string' },
    port: { type: 'string' },
    gpus: { type: 'string' },
    gpu: { type: 'string' },
    field: { type: 'string' },
    value: { type: 'string' },
    type: { type: 'string' },
    offset: { type: 'string' },
    system: { type: 'string' },
    result: { type: 'string' },
    code: { type: 'string' },
    message: { type: 'string' },
    'entity-group': { type: 'string' },
    count: { type: 'string' },
    manager: { type: 'string' },
    mask: { type: 'string' },
    'without-fields': { type: 'string' },
  },
});

function need(name: string, v: string | undefined): string {
  if (v === undefined || v === '') {
    console.error(`standin:dcgm: --${name} is required`);
    process.exit(2);
  }
  return v;
}

const command = positionals[0] ?? 'serve';
const socket = values.socket;

async function main(): Promise<void> {
  switch (command) {
    case 'serve': {
      if (!socket && values.port === undefined) need('socket', socket);
      const without = (values['without-fields'] ?? '').split(',').filter((x) => x !== '').map(Number);
      const engine = new DcgmStandinEngine(Number(values.gpus ?? '1'), without);
      await engine.listen({ socket, port: values.port === undefined ? undefined : Number(values.port), gpus: engine.gpus });
      // Tests wait for this line before connecting.
      console.log(`stand-in DCGM host engine (not nv-hostengine) listening on ${socket ? `unix://${socket}` : ''}${values.port ? ` 127.0.0.1:${values.port}` : ''} with ${engine.gpus} GPU(s)`);
      const stop = (): void => {
        void engine.close().then(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      return;
    }
    case 'inject':
      await injectField(need('socket', socket), Number(need('gpu', values.gpu)), Number(need('field', values.field)),
        need('value', values.value), {
          type: values.type as 'i' | 'd' | 's' | undefined,
          offsetSec: values.offset === undefined ? 0 : Number(values.offset),
        });
      return;
    case 'incident': {
      const result = need('result', values.result);
      if (result !== 'warn' && result !== 'fail') throw new Error('--result must be warn or fail');
      const sys = need('system', values.system);
      await addIncident(need('socket', socket), {
        gpu: Number(need('gpu', values.gpu)),
        system: /^\d+$|^0x/i.test(sys) ? Number(sys) : sys,
        result,
        code: Number(need('code', values.code)),
        message: values.message ?? '',
        entityGroup: values['entity-group'] === undefined ? 1 : Number(values['entity-group']),
      });
      return;
    }
    case 'fabric': {
      const manager = values.manager;
      await setFabric(need('socket', socket), Number(need('gpu', values.gpu)), {
        ...(manager === undefined ? {} : { manager: /^-?\d+$/.test(manager) ? Number(manager) : manager }),
        ...(values.mask === undefined ? {} : { mask: Number(values.mask) }),
      });
      return;
    }
    case 'hang':
      await setHang(need('socket', socket), positionals[1] === 'on');
      return;
    case 'garbage': {
      const mode = positionals[1] ?? 'bytes';
      if (mode !== 'off' && mode !== 'bytes' && mode !== 'values') throw new Error('garbage mode: bytes|values|off');
      await setGarbage(need('socket', socket), mode);
      return;
    }
    case 'gpus':
      await setVisibleGpus(need('socket', socket), Number(need('count', values.count)));
      return;
    case 'clear':
      await clearEngine(need('socket', socket));
      return;
    case 'state':
      console.log(JSON.stringify(await engineState(need('socket', socket))));
      return;
    default:
      console.error(`standin:dcgm: unknown command ${command}`);
      process.exit(2);
  }
}

main().catch((e: unknown) => {
  console.error(`standin:dcgm: ${errorText(e)}`);
  process.exit(1);
});
