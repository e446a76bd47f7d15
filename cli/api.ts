// The command's calls to the API: JSON in and out, the API's one error shape turned into an
// exit code (404 -> 3, any other refusal or no answer -> 4, with the API's message).
import type { ErrorShape } from '../shared/http-error.ts';
import { CliError, Exit } from './exit-codes.ts';

export interface ApiTarget {
  url: string;
  token?: string;
}

export async function apiCall<T>(target: ApiTarget, method: string, path: string, body?: unknown): Promise<T | null> {
  const url = `${target.url.replace(/\/$/, '')}/api${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(target.token ? { authorization: `Bearer ${target.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new CliError(Exit.unavailable, `cannot reach the API at ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(Exit.unavailable, `${method} ${url}: ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const e = (json as Partial<ErrorShape>).error;
    const msg = `${method} ${url}: ${res.status} ${e?.code ?? ''}: ${e?.message ?? text.slice(0, 200)}`;
    throw new CliError(res.status === 404 ? Exit.notFound : res.status === 400 || res.status === 422 ? Exit.usage : Exit.unavailable, msg);
  }
  return json as T;
}
