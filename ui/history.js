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
    // The version (updated_ms, the server's ETag) this page last read or
    // saved of each conversation, and how many messages it had: a save
    // replaces only that version, so that another tab's turns are never
    // overwritten (ApiError 412 instead: see mergeInto).
    this.versions = new Map();
  }
  async list() {
    return (await json(BASE)).conversations;
  }
  async get(id) {
    const c = await json(`${BASE}/${encodeURIComponent(id)}`);
    this.versions.set(id, { version: c.updated_ms, count: c.messages.length });
    return c;
  }
  async save(c) {
    const known = this.versions.get(c.id);
    const headers = known === undefined ? {} : { 'If-Match': `"${known.version}"` };
    const saved = await json(`${BASE}/${encodeURIComponent(c.id)}`, { method: 'PUT', body: c, headers });
    this.versions.set(c.id, { version: saved.updated_ms, count: c.messages.length });
  }
  // After a 412: the stored conversation's messages, then the ones this page
  // added since it last read or saved it (a deleted one keeps them all).
  async mergeInto(c) {
    const ours = c.messages.slice(this.versions.get(c.id)?.count ?? 0);
    this.versions.delete(c.id);
    const latest = await this.get(c.id).catch((err) => {
      if (err?.status === 404) return null;
      throw err;
    });
    if (latest) c.messages = latest.messages.concat(ours);
  }
  async remove(id) {
    await request(`${BASE}/${encodeURIComponent(id)}`, { method: 'DELETE' });
    this.versions.delete(id);
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
  async mergeInto() {
    // One browser's storage: no other copy to merge with.
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
