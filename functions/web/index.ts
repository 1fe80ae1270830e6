import { defineFunction } from '../../lib/platform/function.ts';
import { assets } from './assets.ts';
import { homePage } from './home-page.ts';
import { seatMapPage } from './seat-map-page.ts';
import { signIn } from './sign-in.ts';

/**
 * The pages people use: the events at `/` and each event's live seat map at `/map/:eventId`
 * (not /events/:eventId, which is the events function's JSON). Plain HTML, CSS and one small
 * script (browser/seat-map.ts, bundled by `npm run build:web`), served from strings so the
 * function bundles into one file like the others. The page signs in through an OpenID Connect
 * provider when one is configured, or as a demo user in development (sign-in.ts).
 */
export default defineFunction({
  name: 'web',
  trigger: { kind: 'http' },
  needs: ['postgres'],
  routes: [homePage, seatMapPage, signIn, assets],
});
