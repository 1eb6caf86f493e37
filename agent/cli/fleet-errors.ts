// What went wrong talking to the cluster, in words a person can act on. Pure:
// it reads the error objects @kubernetes/client-node throws (ApiException with
// `code` and `body`; fetch's TypeError with a `cause`) without importing it.

/** Thrown by fleet.ts itself for a kubeconfig it cannot use. */
export interface FleetError {
  kind: 'config';
  detail: string;
}

export interface DescribedError {
  text: string;
  /** Waiting does not fix it (refused, forbidden, misconfigured); an unreachable server may come back. */
  permanent: boolean;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

function apiMessage(body: unknown): string {
  const parsed = typeof body === 'string' ? safeJson(body) : body;
  const msg = (parsed as { message?: unknown } | null)?.message;
  return typeof msg === 'string' ? msg : typeof body === 'string' ? body.slice(0, 300) : '';
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function causeChain(err: unknown): Array<{ code?: string; message?: string }> {
  const out: Array<{ code?: string; message?: string }> = [];
  let e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  for (let i = 0; e !== null && typeof e === 'object' && i < 5; i++) {
    out.push({ ...(typeof e.code === 'string' ? { code: e.code } : {}), ...(typeof e.message === 'string' ? { message: e.message } : {}) });
    e = e.cause as typeof e;
  }
  return out;
}

/**
 * @param server the API server the kubeconfig names (null when it could not be read)
 * @param execCommand the kubeconfig user's exec credential plugin, if it has one
 */
export function describeFleetError(err: unknown, server: string | null, execCommand: string | null = null): DescribedError {
  const e = err as { kind?: unknown; detail?: unknown; code?: unknown; body?: unknown } | null;
  if (e?.kind === 'config') return { text: `cannot use the kubeconfig: ${String(e.detail)}`, permanent: true };
  const status = typeof e?.code === 'number' ? e.code : null;
  if (status !== null) {
    const msg = apiMessage(e?.body);
    if (status === 401) return { text: `the API server at ${server} rejected the credentials (401 Unauthorized)${msg === '' ? '' : `: ${msg}`}. Refresh them (e.g. log in again) or check the kubeconfig's user.`, permanent: true };
    if (status === 403) {
      return {
        text: `forbidden: ${msg === '' ? 'the API server refused to list nodes' : msg}. fleet needs get, list and watch on nodes (cluster scope), e.g. a ClusterRole with {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]} bound to you.`,
        permanent: true,
      };
    }
    return { text: `the API server at ${server} answered HTTP ${status}${msg === '' ? '' : `: ${msg}`}`, permanent: status < 500 };
  }
  const chain = causeChain(err);
  const net = chain.find((c) => c.code !== undefined && NETWORK_CODES.has(c.code));
  if (net !== undefined) return { text: `cannot reach the API server at ${server}: ${net.message ?? net.code}. Is the cluster up, and is the kubeconfig's server address right?`, permanent: false };
  const tls = chain.find((c) => /certificate|self[- ]signed|CERT_|SSL|TLS/i.test(`${c.code ?? ''} ${c.message ?? ''}`));
  if (tls !== undefined) return { text: `TLS with the API server at ${server} failed: ${tls.message ?? tls.code}. Check the kubeconfig's certificate-authority.`, permanent: true };
  const first = chain.find((c) => c.message !== undefined && c.message !== '')?.message ?? String(err);
  if (execCommand !== null) return { text: `the kubeconfig's exec credential plugin (${execCommand}) failed: ${first.trim()}`, permanent: true };
  return { text: first, permanent: false };
}
