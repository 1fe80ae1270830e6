import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** Only the pages' own files: no inline script or style, nothing from elsewhere. */
export const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** The HTML shell of every page; values interpolated into `html` are escaped. */
export function layout(options: { title: string; header: Html; main: Html; script?: boolean }): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · seatrush</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/seat-map.css">
${options.script ? html`<script src="/assets/seat-map.js" defer></script>` : ''}
</head>
<body>
<header class="page">${options.header}</header>
<main>${options.main}</main>
</body>
</html>
`;
}

const DATE_FORMAT = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'full',
  timeStyle: 'short',
  timeZone: 'UTC',
});

export const formatDate = (date: Date) => `${DATE_FORMAT.format(date)} UTC`;
