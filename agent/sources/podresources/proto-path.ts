// Where the .proto lives at run time. Running from source it sits beside this
// file; the compiled agent runs from dist/agent/..., and tsc does not copy
// .proto files, so the package and the image ship it at its source path
// (agent/sources/podresources/) next to dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILE = 'kubelet-podresources-v1.proto';

export function podResourcesProtoPath(moduleUrl: string = import.meta.url, exists = existsSync): string {
  const beside = fileURLToPath(new URL(`./${FILE}`, moduleUrl));
  if (exists(beside)) return beside;
  const marker = '/dist/agent/';
  const at = beside.lastIndexOf(marker);
  if (at === -1) return beside;
  return beside.slice(0, at) + '/agent/' + beside.slice(at + marker.length);
}
