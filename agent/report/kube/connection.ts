// Where the API server is and how to prove who we are: in-cluster (the
// service-account token file, its CA, KUBERNETES_SERVICE_HOST/PORT) or a
// kubeconfig file (what kubeconfigs commonly hold: CA, client certs, bearer
// token or token file). Exec and auth-provider plugins are refused loudly.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface KubeConnection {
  /** `https://host:port` (or `http://` for a test server). */
  server: string;
  /** PEM bundle trusted for the server's certificate. */
  ca?: Buffer;
  clientCert?: Buffer;
  clientKey?: Buffer;
  /** Static bearer token. */
  token?: string;
  /** Bearer token file, re-read whenever it changes (projected tokens rotate). */
  tokenFile?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
}

export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = IN_CLUSTER_DIR): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host === undefined || host === '' || port === undefined || port === '') {
    throw new Error('not running in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set (pass --kubeconfig)');
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    ca: readFileSync(`${dir}/ca.crt`),
    tokenFile: `${dir}/token`,
  };
}

type Entry = Record<string, unknown>;

function pick(list: unknown, name: string, field: 'cluster' | 'user' | 'context', path: string): Entry {
  const items = Array.isArray(list) ? (list as (Entry | null)[]) : [];
  const found = items.find((item) => item?.name === name);
  const value = found?.[field];
  if (value === undefined || value === null || typeof value !== 'object') {
    throw new Error(`kubeconfig ${path}: no ${field} named "${name}"`);
  }
  return value as Entry;
}

function str(entry: Entry, key: string): string | undefined {
  const value = entry[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Reads a kubeconfig; file paths inside it are relative to the file, as kubectl does. */
export async function kubeconfigConnection(path: string, contextName?: string): Promise<KubeConnection> {
  const doc = parseYaml(await readFile(path, 'utf8')) as Entry | null;
  if (doc === null || typeof doc !== 'object') throw new Error(`kubeconfig ${path}: not a YAML mapping`);
  const ctxName = contextName ?? str(doc, 'current-context');
  if (ctxName === undefined) throw new Error(`kubeconfig ${path}: no current-context and no context given`);
  const ctx = pick(doc.contexts, ctxName, 'context', path);
  const clusterName = str(ctx, 'cluster');
  const userName = str(ctx, 'user');
  if (clusterName === undefined) throw new Error(`kubeconfig ${path}: context "${ctxName}" names no cluster`);
  const cluster = pick(doc.clusters, clusterName, 'cluster', path);
  const user = userName === undefined ? {} : pick(doc.users, userName, 'user', path);

  const base = dirname(resolve(path));
  const file = (p: string): Promise<Buffer> => readFile(isAbsolute(p) ? p : resolve(base, p));
  const dataOrFile = async (entry: Entry, dataKey: string, fileKey: string): Promise<Buffer | undefined> => {
    const data = str(entry, dataKey);
    if (data !== undefined) return Buffer.from(data, 'base64');
    const p = str(entry, fileKey);
    return p === undefined ? undefined : file(p);
  };

  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new Error(`kubeconfig ${path}: user "${userName}" uses an exec or auth-provider plugin, which this agent does not run; use a token, token file or client certificate`);
  }
  const server = str(cluster, 'server');
  if (server === undefined) throw new Error(`kubeconfig ${path}: cluster "${clusterName}" has no server`);

  const conn: KubeConnection = { server };
  const ca = await dataOrFile(cluster, 'certificate-authority-data', 'certificate-authority');
  if (ca !== undefined) conn.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) conn.insecureSkipTlsVerify = true;
  const serverName = str(cluster, 'tls-server-name');
  if (serverName !== undefined) conn.tlsServerName = serverName;
  const cert = await dataOrFile(user, 'client-certificate-data', 'client-certificate');
  const key = await dataOrFile(user, 'client-key-data', 'client-key');
  if (cert !== undefined) conn.clientCert = cert;
  if (key !== undefined) conn.clientKey = key;
  const token = str(user, 'token');
  if (token !== undefined) conn.token = token;
  const tokenFile = str(user, 'tokenFile');
  if (tokenFile !== undefined) conn.tokenFile = isAbsolute(tokenFile) ? tokenFile : resolve(base, tokenFile);
  return conn;
}

/** `--kubeconfig` when given, else in-cluster. */
export async function loadConnection(opts: { kubeconfig?: string; context?: string; env?: NodeJS.ProcessEnv }): Promise<KubeConnection> {
  if (opts.kubeconfig !== undefined && opts.kubeconfig !== '') return kubeconfigConnection(opts.kubeconfig, opts.context);
  return inClusterConnection(opts.env);
}
