// The runtime stage for one architecture: its two layers (the cached base, the
// agent's files laid out by image/assemble.sh), its config from the Dockerfile,
// and what each part weighs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeConfig, type ImageConfig } from './dockerfile.ts';
import { appLayer, baseLayer, depsDir, type Arch } from './layers.ts';
import { bytes, formatParts, largestPackages } from './sizes.ts';

export interface Image {
  arch: Arch;
  /** Lower layers for overlayfs, top first. */
  layers: string[];
  app: string;
  base: string;
  baseInfo: Record<string, string>;
  config: ImageConfig;
}

/** Node image's own ENV (the Docker default PATH and the versions it records). */
function baseEnv(info: Record<string, string>): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    NODE_VERSION: info.node ?? '',
    YARN_VERSION: info.yarn ?? '',
  };
}

export async function buildImage(arch: Arch, scratch: string): Promise<Image> {
  const [{ dir: base, info }, deps] = await Promise.all([baseLayer(arch), depsDir(arch)]);
  const app = join(scratch, `app-${arch}`);
  mkdirSync(app);
  await appLayer(deps, app);
  return { arch, layers: [app, base], app, base, baseInfo: info, config: runtimeConfig(baseEnv(info)) };
}

/** The size report the test prints. DCGM is named as left out: NVIDIA's repository is out of reach here. */
export function describeImage(image: Image): string {
  const { base, app, baseInfo: info } = image;
  const nodeParts = [join(base, 'usr/local'), join(base, `opt/yarn-v${info.yarn}`)];
  const appDir = join(app, image.config.workdir);
  return formatParts(`image linux/${image.arch}: node:24-bookworm-slim + image/contents.txt`, [
    { name: `debian ${info.debian} (debootstrap minbase, slimmed)`, bytes: bytes(base, nodeParts) },
    { name: `node ${info.node}, npm ${info.npm}, corepack ${info.corepack}, yarn ${info.yarn}`, bytes: nodeParts.reduce((s, p) => s + bytes(p), 0) },
    { name: 'node_modules (npm ci --omit=dev)', bytes: bytes(join(appDir, 'node_modules')), detail: largestPackages(join(appDir, 'node_modules')) },
    { name: 'dist/agent', bytes: bytes(join(appDir, 'dist/agent')) },
    { name: 'data files and package.json', bytes: bytes(join(appDir, 'agent')) + bytes(join(appDir, 'package.json')) },
  ]) + '\n  not built here: DCGM (datacenter-gpu-manager-4-core from NVIDIA\'s CUDA repository, which cannot be fetched on this machine);'
    + '\n  that Dockerfile step is left as it is, and the DCGM run below uses the native/ stand-in libdcgm.so.4 in its place.';
}
