// `npm run standin:nvml -- ...`: drives the STAND-IN libnvidia-ml.so.1 through its
// control file (the path the agent's process has in NVML_STANDIN_CONTROL).
//
//   xid    --control FILE --gpu I --code N
//   set    --control FILE --gpu I --key ecc_dbe_volatile|retired_pending|remap_failure|... --value N
//   gpus   --control FILE --count N
//   hang   --control FILE on|off
import { parseArgs } from 'node:util';
import { nvmlControl } from './nvml-control.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    control: { type: 'string' },
    gpu: { type: 'string' },
    code: { type: 'string' },
    key: { type: 'string' },
    value: { type: 'string' },
    count: { type: 'string' },
  },
});

const file = values.control ?? process.env.NVML_STANDIN_CONTROL;
if (!file) {
  console.error('standin:nvml: --control FILE (or NVML_STANDIN_CONTROL) is required');
  process.exit(2);
}
const ctl = nvmlControl(file);
const cmd = positionals[0];
if (cmd === 'xid') ctl.xid(Number(values.gpu ?? 0), Number(values.code));
else if (cmd === 'set') ctl.set(Number(values.gpu ?? 0), String(values.key), Number(values.value));
else if (cmd === 'gpus') ctl.gpus(Number(values.count));
else if (cmd === 'hang') ctl.hang(positionals[1] === 'on');
else {
  console.error(`standin:nvml: unknown command ${String(cmd)}`);
  process.exit(2);
}
