import { createHash } from 'node:crypto';

/** What a person unsubscribes from: this message's emails, or every email of the channel. */
export type UnsubscribeScope = 'message' | 'channel';

/** A page of the unsubscribe link: its status, its HTML, and the headers it goes with. */
export type Page = { readonly status: number; readonly html: string };

/**
 * One small stylesheet, inline so the page is one request and works without anything else; the
 * Content-Security-Policy allows exactly it (by hash) and nothing more: no script, no image, no
 * frame, forms only to this origin.
 */
const STYLE = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;background:#f6f8fa;color:#1f2328;font:16px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:28rem;margin:12vh auto 0;padding:32px;background:#fff;border:1px solid #d0d7de;border-radius:12px}
h1{margin:0 0 12px;font-size:1.5rem;line-height:1.25}
p{margin:0 0 24px}
form{margin:0}
button{display:block;width:100%;margin:0;padding:12px 16px;border-radius:8px;font:inherit;font-weight:600;cursor:pointer}
button+button{margin-top:12px}
button:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.primary{background:#0969da;border:1px solid #0969da;color:#fff}
.primary:hover{background:#0860ca}
.secondary{background:#fff;border:1px solid #d0d7de;color:#1f2328}
.secondary:hover{background:#f3f4f6}
.hint{margin:16px 0 0;font-size:.875rem;color:#57606a}
main>:last-child{margin-bottom:0}
@media (max-width:480px){main{margin:0;min-height:100vh;border:0;border-radius:0;padding:24px 20px}}
`.trim();

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  // The link is the credential: no cache keeps the page, no referrer carries the URL anywhere.
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
};

/** A channel opt-out leaves transactional messages (`global_cap_exempt`) through, as the core decides. */
const ESSENTIAL = 'Essential emails about your account may still be sent.';

/** The page a mail's link opens: what it is for, and the two choices, each a form POST (no script). */
export function choicePage(name: string): Page {
  return page(200, 'Unsubscribe', [
    '<h1>Unsubscribe</h1>',
    `<p>Stop getting <strong>${escapeHtml(name)}</strong> emails?</p>`,
    '<form method="post">',
    choiceButton('message', 'primary', 'Unsubscribe'),
    choiceButton('channel', 'secondary', 'Unsubscribe from all email', 'essential'),
    '</form>',
    `<p class="hint" id="essential">${ESSENTIAL}</p>`,
  ]);
}

/** After a POST: what the person is now unsubscribed from, and (from one message) the way to all email. */
export function donePage(name: string, scope: UnsubscribeScope): Page {
  return page(200, 'You are unsubscribed', [
    '<h1>You are unsubscribed</h1>',
    ...(scope === 'message'
      ? [
          `<p>You won’t get <strong>${escapeHtml(name)}</strong> emails any more.</p>`,
          '<form method="post">',
          choiceButton('channel', 'secondary', 'Unsubscribe from all email'),
          '</form>',
        ]
      : [`<p>You won’t get any more emails from us.</p>`, `<p class="hint">${ESSENTIAL}</p>`]),
  ]);
}

/** The same, as plain text, for a client that does not ask for HTML (a mailbox provider's one-click POST). */
export const doneText = (name: string, scope: UnsubscribeScope): string =>
  scope === 'message'
    ? `You are unsubscribed from "${name}" emails.\n`
    : `You are unsubscribed from all email. ${ESSENTIAL}\n`;

/** A token that is not one of ours (400). */
export function invalidLinkPage(): Page {
  return page(400, 'Link not valid', [
    '<h1>This unsubscribe link doesn’t work</h1>',
    '<p>It may have been cut short or changed when it was copied. Open it again from the email, or use the Unsubscribe option your email app shows next to the sender.</p>',
  ]);
}

/** The log did not take the choice (503): nothing changed, and the same choice can be sent again. */
export function retryPage(scope: UnsubscribeScope): Page {
  return page(503, 'Please try again', [
    '<h1>Please try again</h1>',
    '<p>Your choice could not be saved just now, so nothing has changed. Please try again in a minute.</p>',
    '<form method="post">',
    choiceButton(scope, 'primary', 'Try again'),
    '</form>',
  ]);
}

const choiceButton = (
  scope: UnsubscribeScope,
  style: 'primary' | 'secondary',
  label: string,
  describedBy?: string,
) =>
  `<button type="submit" name="scope" value="${scope}" class="${style}"${describedBy === undefined ? '' : ` aria-describedby="${describedBy}"`}>${label}</button>`;

function page(status: number, title: string, body: readonly string[]): Page {
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    ...body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
  return { status, html };
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe to place in HTML content (a message's name is whatever its author wrote). */
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
