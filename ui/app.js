// hearth's chat page: a conversation list, streaming answers from POST
// /api/chat, markdown rendered safely (markdown.js), conversations kept by
// history.js. Everything it loads comes from the server that served it.
import { ApiError, apiKey, json, keyRemembered, ndjson, request, setApiKey } from './api.js';
import { openHistory } from './history.js';
import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);
const el = {
  sidebar: $('sidebar'), list: $('conversations'), note: $('history-note'),
  newChat: $('new-chat'), exportAll: $('export'), deleteAll: $('delete-all'),
  toggleSidebar: $('toggle-sidebar'), model: $('model'), toggleSettings: $('toggle-settings'),
  settings: $('settings'), system: $('system'), apiKey: $('api-key'), rememberKey: $('remember-key'),
  banner: $('banner'), messages: $('messages'), prompt: $('prompt'), send: $('send'), stop: $('stop'),
};
// The options a conversation carries, by input id (all numbers; empty = the model's).
const OPTIONS = {
  temperature: parseFloat, top_p: parseFloat, num_predict: parseInt, num_ctx: parseInt, seed: parseInt,
};
const PREFS = 'hearth.prefs';
const REDRAW_MS = 50;  // last model, system prompt and options: defaults for a new chat

const state = {
  history: null,       // history.js store, once the server answered
  current: null,       // the open conversation (a history document)
  abort: null,         // AbortController of the answer being streamed
};

// ------------------------------------------------------------ small helpers

function showBanner(message, kind = 'error') {
  el.banner.textContent = message;
  el.banner.className = kind;
  el.banner.hidden = !message;
}

function report(err) {
  if (err?.name === 'AbortError') return;
  showBanner(err instanceof Error ? err.message : String(err));
  if (err instanceof ApiError && err.status === 401) openSettings(true);
}

// 2592000 -> "30 days", 43200 -> "12 hours", 5400 -> "90 minutes".
function duration(s) {
  const [n, unit] = s % 86400 === 0 ? [s / 86400, 'day'] : s % 3600 === 0 ? [s / 3600, 'hour']
    : [Math.max(1, Math.round(s / 60)), 'minute'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function prefs() {
  try {
    return JSON.parse(localStorage.getItem(PREFS) || '{}') || {};
  } catch {
    return {};
  }
}

function newConversation() {
  const p = prefs();
  return { id: crypto.randomUUID(), title: '', model: p.model || el.model.value || '',
    system: p.system || '', options: p.options || {}, messages: [] };
}

function openSettings(focusKey) {
  el.settings.hidden = false;
  el.toggleSettings.setAttribute('aria-expanded', 'true');
  if (focusKey) el.apiKey.focus();
}

// ------------------------------------------------------------ rendering

function statsText(m) {
  const parts = [];
  if (m.eval_count && m.cached) {
    // Replayed from the server's cache: no speed to speak of.
    parts.push(`${m.eval_count} tokens`, 'repeated from cache');
  } else if (m.eval_count && m.eval_duration) {
    parts.push(`${m.eval_count} tokens`);
    parts.push(`${(m.eval_count / (m.eval_duration / 1e9)).toFixed(1)} tokens/s`);
  }
  if (m.stopped) parts.push('stopped');
  return parts.join(' · ');
}

function messageNode(m) {
  const div = document.createElement('div');
  div.className = `msg ${m.role}`;
  const body = document.createElement('div');
  body.className = 'body';
  div.append(body);
  const stats = document.createElement('div');
  stats.className = 'stats';
  div.append(stats);
  fillMessage(div, m);
  return div;
}

function fillMessage(div, m) {
  const body = div.querySelector('.body');
  if (m.role === 'assistant') body.innerHTML = renderMarkdown(m.content);
  else body.textContent = m.content;
  div.querySelector('.stats').textContent = m.role === 'assistant' ? statsText(m) : '';
}

function renderConversation() {
  el.messages.replaceChildren(...state.current.messages.map(messageNode));
  el.system.value = state.current.system || '';
  for (const key of Object.keys(OPTIONS)) $(key).value = state.current.options?.[key] ?? '';
  if (state.current.model) selectModel(state.current.model);
  el.messages.scrollTop = el.messages.scrollHeight;
}

async function renderList() {
  if (!state.history) return;
  const rows = await state.history.list();
  el.list.replaceChildren(...rows.map((c) => {
    const li = document.createElement('li');
    li.dataset.id = c.id;
    if (state.current && c.id === state.current.id) li.className = 'active';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.textContent = c.title || '(untitled)';
    open.title = `${c.model} · ${new Date(c.updated_ms).toLocaleString()}`;
    open.addEventListener('click', () => loadConversation(c.id).catch(report));
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'delete';
    del.textContent = '×';
    del.setAttribute('aria-label', `Delete conversation ${c.title || ''}`);
    del.addEventListener('click', () => deleteConversation(c.id).catch(report));
    li.append(open, del);
    return li;
  }));
}

// ------------------------------------------------------------ models

function selectModel(name) {
  if (![...el.model.options].some((o) => o.value === name)) {
    const o = document.createElement('option');
    o.value = o.textContent = name;
    el.model.append(o);
  }
  el.model.value = name;
}

async function loadModels() {
  const { models } = await json('/api/tags');
  el.model.replaceChildren(...models.map((m) => {
    const o = document.createElement('option');
    o.value = o.textContent = m.name;
    return o;
  }));
  const wanted = state.current?.model || prefs().model;
  if (wanted) selectModel(wanted);
}

// ------------------------------------------------------------ settings

function readSettings() {
  const options = {};
  for (const [key, parse] of Object.entries(OPTIONS)) {
    const v = $(key).value.trim();
    if (v !== '' && Number.isFinite(parse(v))) options[key] = parse(v);
  }
  state.current.options = options;
  state.current.system = el.system.value;
  state.current.model = el.model.value;
  localStorage.setItem(PREFS, JSON.stringify({ model: el.model.value, system: el.system.value, options }));
}

// ------------------------------------------------------------ conversations

async function save() {
  const c = state.current;
  if (!state.history || c.messages.length === 0) return;
  try {
    await state.history.save(c);
  } catch (err) {
    if (err?.status !== 412) throw err;
    // Another tab saved (or deleted) this conversation since this page read
    // it: its turns are kept, and this page's new ones follow them.
    await state.history.mergeInto(c);
    await state.history.save(c);
    if (state.current === c && !state.abort) renderConversation();
    showBanner('This conversation changed in another tab: your new messages now follow its latest ones.');
  }
  await renderList();
}

async function loadConversation(id) {
  if (state.abort) return;
  state.current = await state.history.get(id);
  renderConversation();
  await renderList();
  closeSidebarOnPhone();
}

async function deleteConversation(id) {
  await state.history.remove(id);
  if (state.current.id === id) {
    state.current = newConversation();
    renderConversation();
  }
  await renderList();
}

function closeSidebarOnPhone() {
  el.sidebar.classList.remove('open');
  el.toggleSidebar.setAttribute('aria-expanded', 'false');
}

// ------------------------------------------------------------ chatting

async function send() {
  const text = el.prompt.value;
  if (!text.trim() || state.abort) return;
  if (!el.model.value) {
    showBanner('No model to answer: add one with `hearth pull` or `hearth create`.');
    return;
  }
  showBanner('');
  readSettings();
  const c = state.current;
  // 80 characters, not UTF-16 units: half an emoji would make the title
  // invalid JSON text (a lone surrogate) and the conversation unsavable.
  if (!c.title) c.title = Array.from(text.trim().replace(/\s+/g, ' ')).slice(0, 80).join('');
  c.messages.push({ role: 'user', content: text });
  el.messages.append(messageNode(c.messages.at(-1)));
  el.prompt.value = '';
  // Kept before the answer starts: a reload or a closed tab mid-answer loses
  // at most the answer, never what was typed.
  await save().catch(report);
  const answer = { role: 'assistant', content: '' };
  c.messages.push(answer);
  const node = messageNode(answer);
  node.classList.add('streaming');
  el.messages.append(node);
  el.messages.scrollTop = el.messages.scrollHeight;

  const abort = new AbortController();
  state.abort = abort;
  el.send.hidden = true;
  el.stop.hidden = false;
  // Redrawn at most every REDRAW_MS (markdown and highlighting of the whole
  // answer so far), by a timer rather than requestAnimationFrame, which a
  // hidden or headless page may never run.
  let timer = 0;
  const redraw = () => {
    timer = 0;
    fillMessage(node, answer);
    el.messages.scrollTop = el.messages.scrollHeight;
  };
  try {
    const messages = [];
    if (c.system.trim()) messages.push({ role: 'system', content: c.system });
    for (const m of c.messages.slice(0, -1)) messages.push({ role: m.role, content: m.content });
    const res = await request('/api/chat', {
      method: 'POST', signal: abort.signal,
      // A long conversation keeps going: its oldest turns give way to the context.
      body: { model: c.model, messages, stream: true, options: c.options, truncate: true },
    });
    if (res.headers.get('X-Hearth-Cache') === 'hit') answer.cached = true;
    for await (const chunk of ndjson(res)) {
      if (chunk.error) throw new Error(chunk.error);
      if (chunk.message?.content) answer.content += chunk.message.content;
      if (chunk.done) {
        answer.eval_count = chunk.eval_count;
        answer.eval_duration = chunk.eval_duration;
      }
      if (!timer) timer = setTimeout(redraw, REDRAW_MS);
    }
  } catch (err) {
    if (err?.name === 'AbortError') answer.stopped = true;
    else report(err);
  } finally {
    clearTimeout(timer);
    state.abort = null;
    el.send.hidden = false;
    el.stop.hidden = true;
    node.classList.remove('streaming');
    redraw();
    el.prompt.focus();
  }
  await save().catch(report);
}

function stop() {
  state.abort?.abort();
}

// ------------------------------------------------------------ wiring

async function connect() {
  try {
    state.history = await openHistory();
  } catch (err) {
    report(err);
    return;
  }
  el.note.textContent = state.history.kind === 'server'
    ? (state.history.retentionSeconds
      ? `Conversations are kept by the server for ${duration(state.history.retentionSeconds)} after their last message.`
      : 'Conversations are kept by the server until you delete them.')
    : 'The server keeps no history (--no-history): conversations stay in this browser only.';
  el.note.dataset.kind = state.history.kind;
  await Promise.all([loadModels(), renderList()]).catch(report);
}

function wire() {
  el.send.addEventListener('click', () => send().catch(report));
  el.stop.addEventListener('click', stop);
  el.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send().catch(report);
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.abort) {
      e.preventDefault();
      stop();
    }
  });
  el.newChat.addEventListener('click', () => {
    if (state.abort) return;
    state.current = newConversation();
    renderConversation();
    renderList().catch(report);
    closeSidebarOnPhone();
    el.prompt.focus();
  });
  el.deleteAll.addEventListener('click', async () => {
    if (!state.history || !confirm('Delete every conversation? This cannot be undone.')) return;
    try {
      await state.history.removeAll();
      state.current = newConversation();
      renderConversation();
      await renderList();
    } catch (err) {
      report(err);
    }
  });
  el.exportAll.addEventListener('click', async () => {
    if (!state.history) return;
    try {
      const blob = await state.history.exportAll();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = 'hearth-conversations.json';
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      report(err);
    }
  });
  el.toggleSidebar.addEventListener('click', () => {
    const open = el.sidebar.classList.toggle('open');
    el.toggleSidebar.setAttribute('aria-expanded', String(open));
  });
  el.toggleSettings.addEventListener('click', () => {
    el.settings.hidden = !el.settings.hidden;
    el.toggleSettings.setAttribute('aria-expanded', String(!el.settings.hidden));
  });
  el.apiKey.value = apiKey();
  el.rememberKey.checked = keyRemembered();
  const keyChanged = () => {
    setApiKey(el.apiKey.value.trim(), el.rememberKey.checked);
    showBanner('');
    connect();
  };
  el.apiKey.addEventListener('change', keyChanged);
  el.rememberKey.addEventListener('change', keyChanged);
  el.model.addEventListener('change', readSettings);
  el.system.addEventListener('change', readSettings);
  for (const key of Object.keys(OPTIONS)) $(key).addEventListener('change', readSettings);
}

state.current = newConversation();
wire();
renderConversation();
connect();
el.prompt.focus();
