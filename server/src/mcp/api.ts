// How an MCP tool reaches Loam: real HTTP requests to this same process (its own listening address) with the
// caller's Authorization header, so every tool goes through the same authentication, scopes, RLS and rate
// limit as any other client of `/v1` — there is no second authorization path and no privilege of its own.
export interface Api {
  /** Set when the connection was made with the project's service key instead of an access token. */
  serviceKey?: string;
  /** A `/v1` call; the JSON answer, or throws with the API's message. */
  request(method: string, path: string, body?: unknown): Promise<unknown>;
  /** A `/v1` call answered as multipart/form-data. */
  form(path: string): Promise<FormData>;
  /** A call to a project's data plane with one of its keys. */
  project(ref: string, method: string, path: string, key: string, body?: unknown): Promise<unknown>;
}

const TIMEOUT_MS = 120_000;

/** A path whose segments are not `.` or `..` (in any encoding), so a tool argument cannot steer a call elsewhere. */
function safe(path: string): string {
  const segments = path.split('?')[0].split('/');
  if (segments.some((seg) => { try { return ['.', '..'].includes(decodeURIComponent(seg)); } catch { return true; } })) {
    throw new Error('invalid identifier in tool arguments');
  }
  return path;
}

async function answer(res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown = text;
  try { body = text ? JSON.parse(text) : null; } catch { /* text */ }
  if (res.ok) return body;
  const b = (body ?? {}) as Record<string, unknown>;
  const message = [b.message, b.msg, b.error_description, b.error].find((m) => typeof m === 'string') ?? (typeof body === 'string' && body ? body : res.statusText);
  throw new Error(`${res.status}: ${String(message).slice(0, 2000)}`);
}

export function apiFor(base: string, authorization: string | undefined, serviceKey?: string): Api {
  const call = (method: string, url: string, headers: Record<string, string>, body?: unknown) => {
    const form = body instanceof FormData;
    return fetch(url, {
      method, signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { ...headers, ...(body !== undefined && !form ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    });
  };
  const pat = (): Record<string, string> => {
    if (!authorization) throw new Error('this tool needs a personal access token');
    return { authorization };
  };
  return {
    serviceKey,
    async request(method, path, body) {
      return answer(await call(method, `${base}/v1${safe(path)}`, pat(), body));
    },
    async form(path) {
      const res = await call('GET', `${base}/v1${safe(path)}`, { ...pat(), accept: 'multipart/form-data' });
      if (!res.ok) { await answer(res); }
      return res.formData();
    },
    async project(ref, method, path, key, body) {
      return answer(await call(method, `${base}/project/${safe(ref)}${safe(path)}`, { apikey: key, authorization: `Bearer ${key}` }, body));
    },
  };
}
