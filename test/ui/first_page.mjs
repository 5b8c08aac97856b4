// Time to a usable first page of pgwarden's web UI in headless Chromium
// (bench/ui_first_page.py runs it). Each run is a new browser context, so
// nothing is cached: the page, script, style and logo come over TLS each time.
//
//   node test/ui/first_page.mjs '{"base": URL, "spki": PIN?, "modules": DIR, "token": K8S_TOKEN?, "runs": N}'
//
// Measures, in ms from the navigation's start:
//   login: the login page with its token field ready for input;
//   list:  (with a token) the clusters list rendered, already logged in: the
//          session token in sessionStorage, so this includes the list's API call.
// Prints one JSON object.
import { createRequire } from 'node:module';

const sc = JSON.parse(process.argv[2]);
const require = createRequire(sc.modules.replace(/\/?$/, '/'));
const { chromium } = require('playwright-core');
const runs = sc.runs || 10;

const args = ['--no-sandbox', '--disable-dev-shm-usage'];
if (sc.spki) args.push('--ignore-certificate-errors-spki-list=' + sc.spki);
const t0 = Date.now();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args });
const result = { launchMs: Date.now() - t0, chromium: browser.version(), login: [], list: [], transfer: null };

async function timed(url, ready, init) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: !sc.spki });
  if (init) await ctx.addInitScript(init.fn, init.arg);
  const page = await ctx.newPage();
  const start = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.locator(ready).first().waitFor({ state: 'visible' });
  const ms = Date.now() - start;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource').filter((r) => r.name.includes('/ui/'));
    return { domContentLoaded: Math.round(n.domContentLoadedEventEnd), bytes: n.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
      files: res.map((r) => r.name.replace(/^.*\/ui\//, '')) };
  });
  await ctx.close();
  return { ms, ...nav };
}

try {
  for (let i = 0; i < runs; i++) result.login.push(await timed(sc.base + '/ui/', '[data-testid=login-token]'));
  if (sc.token) {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: !sc.spki });
    const page = await ctx.newPage();
    await page.goto(sc.base + '/ui/');
    const s = await page.evaluate(async (token) => {
      const r = await fetch('/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
      return r.json();
    }, sc.token);
    await ctx.close();
    const seed = (x) => {
      sessionStorage.setItem('pgw.token', x.token);
      sessionStorage.setItem('pgw.user', x.user.username);
      sessionStorage.setItem('pgw.ns', x.namespace);
      sessionStorage.setItem('pgw.exp', x.expiresAt);
    };
    for (let i = 0; i < runs; i++)
      result.list.push(await timed(sc.base + '/ui/#/', '[data-testid=cluster-table], [data-testid=cluster-table-empty]', { fn: seed, arg: s }));
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + '\n');
