import {randomBytes} from 'node:crypto'

import type {HttpResponse} from '../http/router.js'

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}

const STYLE = `:root{color-scheme:light dark;--bg:#f5f6f8;--surface:#fff;--border:#d9dde3;--text:#1b1f24;--muted:#5d6673;--accent:#2563eb;--ok:#15803d;--bad:#b91c1c}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--surface:#181c22;--border:#2c323b;--text:#e6e9ee;--muted:#a3acb9;--accent:#60a5fa;--ok:#4ade80;--bad:#f87171}}
body{margin:0;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:36rem;margin:2rem auto;padding:1.25rem;background:var(--surface);border:1px solid var(--border);border-radius:8px}
h1{font-size:1.3rem;margin:0 0 1rem}a{color:var(--accent)}code{font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px}dt{color:var(--muted);font-weight:600}dd{margin:0}
button{font:inherit;min-height:44px;padding:.5rem 1.2rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}
button:disabled{opacity:.6;cursor:progress}.ok{color:var(--ok)}.bad{color:var(--bad)}.muted{color:var(--muted)}
.progress{height:4px;background:var(--border);border-radius:2px;overflow:hidden;margin:1rem 0}.progress span{display:block;height:100%;width:30%;background:var(--accent);animation:p 1.2s ease-in-out infinite}
@keyframes p{from{margin-left:-30%}to{margin-left:100%}}nav{margin-top:1.5rem}`

// Shows progress while the request runs (pull, recreate and health check take seconds to minutes).
const SCRIPT = `document.querySelector('form')?.addEventListener('submit',function(){var b=this.querySelector('button');b.disabled=true;b.textContent='Applying…';document.getElementById('progress').hidden=false})`

/** A page of the apply link, in the dashboard's look, with a way back to it. */
export function applyPage(
  status: number,
  title: string,
  body: string,
  kind: 'ok' | 'bad' | 'plain' = 'plain',
): HttpResponse {
  const nonce = randomBytes(12).toString('base64')
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; img-src 'self'; form-action 'self'`,
    },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light dark"><title>${esc(title)} · homeops</title><style>${STYLE}</style></head>
<body><main><h1${kind === 'plain' ? '' : ` class="${kind}"`}>${esc(title)}</h1>${body}
<nav><a href="/">← Back to the homeops dashboard</a></nav></main><script nonce="${nonce}">${SCRIPT}</script></body></html>`,
  }
}

/** A page that says one thing: an outcome (marked ok once updated) or a refusal (marked bad), in plain paragraphs. */
export function messagePage(status: number, title: string, ...paragraphs: string[]): HttpResponse {
  const kind = status >= 400 ? 'bad' : /^Updated/.test(title) ? 'ok' : 'plain'
  return applyPage(status, title, paragraphs.map((p) => `<p>${esc(p)}</p>`).join(''), kind)
}
