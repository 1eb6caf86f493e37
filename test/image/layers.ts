// The image's layers as directory trees, from the Dockerfile's ingredients:
// the base (node:24-bookworm-slim, built by base-rootfs.sh and cached), the
// production dependencies (image/assemble.sh deps, cached per lock file) and the
// agent's own files (image/assemble.sh app, laid out fresh for every run).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Arch = 'amd64' | 'arm64';

export const ROOT = resolve(import.meta.dirname, '../..');
const HERE = import.meta.dirname;
const ASSEMBLE = join(ROOT, 'image/assemble.sh');

export function cacheDir(): string {
  return join(process.env.GPU_HEALTH_AGENT_CACHE ?? join(homedir(), '.cache', 'gpu-health-agent'), 'image');
}

/** The multiarch directory the image's libraries live in (and the NVIDIA toolkit injects into). */
export const LIB_DIR: Record<Arch, string> = { amd64: '/usr/lib/x86_64-linux-gnu', arm64: '/usr/lib/aarch64-linux-gnu' };

function digest(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 12);
}

/** Drops the cached trees of earlier inputs (`<prefix>-<other digest>` and their side files). */
function dropStale(prefix: string, keep: string): void {
  for (const name of readdirSync(cacheDir())) {
    if (name.startsWith(`${prefix}-`) && !name.startsWith(keep)) rmSync(join(cacheDir(), name), { recursive: true, force: true });
  }
}

async function sh(cmd: string, args: string[], what: string, timeout: number): Promise<void> {
  try {
    await run(cmd, args, { timeout, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${what} failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}${(e.stdout ?? '').slice(-2000)}`);
  }
}

/** node:24-bookworm-slim for `arch`, built once per version of base-rootfs.sh (minutes), then cached. */
export async function baseLayer(arch: Arch): Promise<{ dir: string; info: Record<string, string> }> {
  mkdirSync(cacheDir(), { recursive: true });
  const name = `base-${arch}-${digest([join(HERE, 'base-rootfs.sh'), join(HERE, 'qemu-binfmt.sh')])}`;
  const dir = join(cacheDir(), name);
  if (arch !== hostArch()) await sh('bash', [join(HERE, 'qemu-binfmt.sh'), arch], `registering qemu-user for ${arch}`, 30_000);
  if (!existsSync(dir)) {
    process.stderr.write(`image test: building the ${arch} base tree into ${dir} (first run only; minutes)\n`);
    // flock: two runs that both miss the cache build it once.
    const script = `[ -d '${dir}' ] || bash '${join(HERE, 'base-rootfs.sh')}' ${arch} '${dir}'`;
    await sh('flock', [join(cacheDir(), `.base-${arch}.lock`), 'bash', '-c', script], `base-rootfs.sh ${arch}`, 20 * 60_000);
    dropStale(`base-${arch}`, name);
  }
  const info = Object.fromEntries(
    readFileSync(`${dir}.info`, 'utf8').trim().split('\n').map((l) => l.split('=', 2) as [string, string]),
  );
  return { dir, info };
}

/** `image/assemble.sh deps ARCH`: npm ci --omit=dev, cached per package.json + lock + assemble.sh. */
export async function depsDir(arch: Arch): Promise<string> {
  const name = `deps-${arch}-${digest([join(ROOT, 'package.json'), join(ROOT, 'package-lock.json'), ASSEMBLE])}`;
  const dir = join(cacheDir(), name);
  if (existsSync(dir)) return dir;
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(tmp, 'package.json'));
  cpSync(join(ROOT, 'package-lock.json'), join(tmp, 'package-lock.json'));
  await sh('sh', [ASSEMBLE, 'deps', arch, tmp], 'image/assemble.sh deps', 5 * 60_000);
  renameSync(tmp, dir);
  dropStale(`deps-${arch}`, name);
  return dir;
}

/** `image/assemble.sh app`: the runtime stage's own files, into the empty directory `out`. */
export async function appLayer(deps: string, out: string): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/agent/main.js'))) throw new Error('dist/agent is missing: run `npm run build` first (npm test does)');
  await sh('sh', [ASSEMBLE, 'app', ROOT, deps, out], 'image/assemble.sh app', 60_000);
}

export function hostArch(): Arch {
  if (process.arch === 'x64') return 'amd64';
  if (process.arch === 'arm64') return 'arm64';
  throw new Error(`the image test runs on amd64 or arm64 hosts, not ${process.arch}`);
}

const ELF_MACHINE: Record<Arch, number> = { amd64: 0x3e, arm64: 0xb7 };

/**
 * The NVML and DCGM stand-ins (native/) built for `arch`: the host's from
 * `npm run native:build`, another architecture's cross-built with its GCC
 * (aarch64-linux-gnu-gcc) into native/build/<arch>/.
 */
export async function standins(arch: Arch): Promise<{ nvml: string; dcgm: string }> {
  let dir = join(ROOT, 'native/build');
  if (arch === hostArch()) {
    if (!existsSync(join(dir, 'libnvidia-ml.so.1'))) throw new Error('native/build is missing the stand-ins: run `npm run native:build` (npm test does)');
  } else {
    dir = join(dir, arch);
    const cc = arch === 'arm64' ? 'aarch64-linux-gnu-gcc' : 'x86_64-linux-gnu-gcc';
    await sh('bash', ['-c', `command -v ${cc} >/dev/null || { echo "${cc} is missing: apt-get install gcc-${arch === 'arm64' ? 'aarch64' : 'x86-64'}-linux-gnu (.ci/run does)" >&2; exit 1; }; CC=${cc} NATIVE_OUT='${dir}' bash '${join(ROOT, 'native/build.sh')}'`], `cross-building the stand-ins for ${arch}`, 120_000);
  }
  const libs = { nvml: join(dir, 'libnvidia-ml.so.1'), dcgm: join(dir, 'libdcgm.so.4') };
  for (const lib of Object.values(libs)) {
    const machine = readFileSync(lib).readUInt16LE(18);
    if (machine !== ELF_MACHINE[arch]) throw new Error(`${lib} is not an ${arch} ELF (e_machine 0x${machine.toString(16)})`);
  }
  return libs;
}
