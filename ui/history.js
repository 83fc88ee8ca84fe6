// Where conversations are kept: by the server (/api/hearth/conversations,
// `hearth serve --history`, the default) or, when the server keeps none
// (--no-history), in this browser's localStorage only. Both offer the same
// calls; conversations are the documents of src/history/history.h.
import { json, request } from './api.js';

const BASE = '/api/hearth/conversations';
const LOCAL = 'hearth.conversations';

function summary(c) {
  return { id: c.id, title: c.title, model: c.model, created_ms: c.created_ms,
    updated_ms: c.updated_ms, messages: c.messages.length };
}

class ServerHistory {
  constructor(retentionSeconds) {
    this.kind = 'server';
    this.retentionSeconds = retentionSeconds;  // 0: kept until deleted
  }
  async list() {
    return (await json(BASE)).conversations;
  }
  async get(id) {
    return json(`${BASE}/${encodeURIComponent(id)}`);
  }
  async save(c) {
    await request(`${BASE}/${encodeURIComponent(c.id)}`, { method: 'PUT', body: c });
  }
  async remove(id) {
    await request(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }
  async removeAll() {
    await request(BASE, { method: 'DELETE' });
  }
  async exportAll() {
    return (await request(`${BASE}/export`)).blob();
  }
}

class LocalHistory {
  constructor() {
    this.kind = 'local';
  }
  #all() {
    try {
      const all = JSON.parse(localStorage.getItem(LOCAL) || '{}');
      return all && typeof all === 'object' ? all : {};
    } catch {
      return {};
    }
  }
  #write(all) {
    localStorage.setItem(LOCAL, JSON.stringify(all));
  }
  async list() {
    return Object.values(this.#all()).map(summary).sort((a, b) => b.updated_ms - a.updated_ms);
  }
  async get(id) {
    const c = this.#all()[id];
    if (!c) throw new Error('conversation not found');
    return c;
  }
  async save(c) {
    const all = this.#all();
    const now = Date.now();
    all[c.id] = { ...c, created_ms: all[c.id]?.created_ms ?? now, updated_ms: now };
    this.#write(all);
  }
  async remove(id) {
    const all = this.#all();
    delete all[id];
    this.#write(all);
  }
  async removeAll() {
    localStorage.removeItem(LOCAL);
  }
  async exportAll() {
    const conversations = Object.values(this.#all()).sort((a, b) => b.updated_ms - a.updated_ms);
    return new Blob([JSON.stringify({ conversations }, null, 1)], { type: 'application/json' });
  }
}

// Asks the server which kind it keeps. Throws ApiError (401 without a key).
export async function openHistory() {
  const r = await json(BASE);
  return r.history ? new ServerHistory(r.retention_s) : new LocalHistory();
}
