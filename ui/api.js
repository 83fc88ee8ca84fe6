// The page's one way to talk to the server: same origin only, the API key
// (when one is set) as `Authorization: Bearer`, errors as ApiError with the
// server's {"error": ...} message and the status.

const KEY = 'hearth.apiKey';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The key lives in sessionStorage, or in localStorage when the user asks to
// remember it on this device.
export function apiKey() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || '';
}
export function keyRemembered() {
  return localStorage.getItem(KEY) !== null;
}
export function setApiKey(key, remember) {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
  if (key) (remember ? localStorage : sessionStorage).setItem(KEY, key);
}

// fetch() on a same-origin path; resolves to the Response when it is 2xx,
// throws ApiError otherwise.
export async function request(path, { method = 'GET', body, signal, headers: extra = {} } = {}) {
  const headers = { ...extra };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, signal,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin', cache: 'no-store',
  });
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`;
  try {
    const j = await res.json();
    if (j && typeof j.error === 'string') message = j.error;
  } catch {
    // not JSON: the status line says enough
  }
  if (res.status === 401)
    message = 'This server needs an API key: enter yours under Settings (API key). ' + message;
  throw new ApiError(res.status, message);
}

export async function json(path, options) {
  return (await request(path, options)).json();
}

// The objects of an NDJSON response body, one per line, as they arrive.
export async function* ndjson(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  buf += decoder.decode();
  if (buf.trim()) yield JSON.parse(buf);
}
