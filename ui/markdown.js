// Model output -> safe HTML. marked renders the markdown, highlight.js the
// code blocks, and DOMPurify then removes whatever could run or load: raw
// HTML in the output never executes (the page's CSP forbids inline script
// too), and nothing is fetched from another host (images become their alt
// text).
import { Marked } from 'marked';
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/common';

// Auto-detection tries every language: only for blocks small enough to be quick.
const AUTO_DETECT_MAX_CHARS = 10000;

function escape(text) {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

const marked = new Marked({
  gfm: true,
  renderer: {
    code({ text, lang }) {
      const language = (lang || '').trim().split(/\s+/)[0].toLowerCase();
      let body;
      let cls = 'hljs';
      if (language && hljs.getLanguage(language)) {
        body = hljs.highlight(text, { language, ignoreIllegals: true }).value;
        cls += ` language-${language}`;
      } else if (text.length <= AUTO_DETECT_MAX_CHARS) {
        body = hljs.highlightAuto(text).value;
      } else {
        body = escape(text);
      }
      return `<pre><code class="${cls}">${body}</code></pre>\n`;
    },
    image({ text }) {
      return escape(text ? `[image: ${text}]` : '[image]');
    },
  },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'img', 'picture', 'video', 'audio', 'source', 'iframe', 'object',
    'embed', 'form', 'input', 'button', 'textarea', 'select', 'link', 'meta', 'base'],
  FORBID_ATTR: ['style', 'srcset', 'action', 'formaction'],
};

export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text), PURIFY);
}
