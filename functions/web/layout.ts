import type { Context } from 'hono';
import { html } from 'hono/html';
import { secureHeaders } from 'hono/secure-headers';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Config } from '../../lib/platform/config.ts';
import type { AppEnv } from '../../lib/platform/env.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * Where the pages' script may connect: this site (the API and the seat stream) and, when sign-in
 * goes through an OpenID Connect provider, its origin (discovery and the token endpoint, which
 * providers serve on the issuer's origin).
 */
export function connectSources(config: Pick<Config, 'AUTH_OIDC_ISSUER'>): string[] {
  return config.AUTH_OIDC_ISSUER ? ["'self'", new URL(config.AUTH_OIDC_ISSUER).origin] : ["'self'"];
}

/**
 * The pages' headers (hono/secure-headers), for each page route: a Content-Security-Policy that
 * runs only the pages' own files (no inline script or style, so an injected one never runs) and
 * lets no other site frame them, no sniffing, no referrer beyond this site, and the rest of the
 * library's defaults. Strict-Transport-Security is left to whatever terminates TLS, which knows
 * whether the site is served over HTTPS.
 */
export const pageSecurityHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: [(c: Context<AppEnv>) => connectSources(c.get('services').config).join(' ')],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
  referrerPolicy: 'same-origin',
  xFrameOptions: 'DENY',
  strictTransportSecurity: false,
  permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] },
});

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
