import type { Delivery } from '../../ports/delivery.ts';

export type RenderedMail = { readonly subject: string; readonly text: string; readonly html: string };

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe to place in HTML content or a quoted attribute. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/**
 * A delivery as a mail: the subject is the message's (its id when it has none); the text part is
 * the rendered body as it is, which reads well alone; the HTML part is the same body escaped (a
 * body is text, never markup), its blank lines as paragraphs and its line breaks kept, in one
 * narrow column with inline styles and no images, so it reads the same in a client that strips
 * `<style>` or blocks images. With an unsubscribe link (every mail `nudge send email` sends has
 * one), both parts end with a footer that offers it, below a separator: the text part after the
 * signature line `-- ` (which mail programs show as a footer), the HTML part as a small grey link.
 * With an open pixel, the HTML part ends with it: a 1×1 image with an empty alt, a block of its
 * own (an inline image would open a line box a line high), so a client that blocks images shows
 * no broken image and no space for it. The text part has none: opens are counted only where
 * images are loaded.
 */
export function renderMail(delivery: Delivery, unsubscribeUrl?: string, pixelUrl?: string): RenderedMail {
  const subject = delivery.subject ?? delivery.message_id;
  const paragraphs = delivery.body
    .split(/\r?\n\s*\r?\n/)
    .filter((paragraph) => paragraph.trim() !== '')
    .map(
      (paragraph) => `<p style="margin:0 0 16px">${escapeHtml(paragraph).replace(/\r?\n/g, '<br>\n')}</p>`,
    );
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(subject)}</title>`,
    '</head>',
    '<body style="margin:0;padding:24px 16px;background:#ffffff;color:#1f2328;font:16px/1.5 -apple-system,\'Segoe UI\',Helvetica,Arial,sans-serif">',
    '<div style="max-width:560px;margin:0 auto">',
    ...paragraphs,
    ...(unsubscribeUrl === undefined ? [] : htmlFooter(unsubscribeUrl)),
    '</div>',
    ...(pixelUrl === undefined ? [] : [pixel(pixelUrl)]),
    '</body>',
    '</html>',
    '',
  ].join('\n');
  const text =
    unsubscribeUrl === undefined ? delivery.body : `${delivery.body.trimEnd()}${textFooter(unsubscribeUrl)}`;
  return { subject, text, html };
}

const FOOTER_QUESTION = 'Don’t want these emails?';

/**
 * After the signature line "-- " (dash, dash, space), which mail programs show as the mail's
 * footer; the link on a line of its own, so that no text around it is taken for part of it.
 */
const textFooter = (url: string): string => `\n\n-- \n${FOOTER_QUESTION} Unsubscribe:\n${url}\n`;

const htmlFooter = (url: string): string[] => [
  '<hr style="border:0;border-top:1px solid #d0d7de;margin:32px 0 16px">',
  `<p style="margin:0;font-size:13px;line-height:1.5;color:#57606a">${escapeHtml(FOOTER_QUESTION)} <a href="${escapeHtml(url)}" style="color:#57606a;text-decoration:underline">Unsubscribe</a></p>`,
];

/** The open pixel: 1×1, no alt text to show in its place, no border, margin or line box around it. */
const pixel = (url: string): string =>
  `<img src="${escapeHtml(url)}" alt="" width="1" height="1" border="0" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0;overflow:hidden">`;
