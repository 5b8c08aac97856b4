// pgwarden's web UI in a real browser (Debian's chromium, headless, driven by
// playwright-core), against a running pgwarden: test/integration/test_ui_browser.py
// runs it on the test bed and checks with kubectl what the clicks did.
//
//   node test/ui/e2e.mjs '<scenario JSON>'
//
// Scenario: {base, spki?, modules, shots?, editorToken, viewerToken, namespace,
//            cluster, version, timeouts: {running, backup, ...}}
// Talks on stdout, one JSON object a line:
//   {"step": NAME, ...}   what the page showed at a step (the test asserts on these)
//   {"wait": NAME, ...}   the test is to do something with kubectl now; the script
//                         reads one JSON line from stdin before it goes on
//   {"done": true} / {"error": "...", "step": ...}
import { createRequire } from 'node:module';
import readline from 'node:readline';

const sc = JSON.parse(process.argv[2]);
const require = createRequire(sc.modules.replace(/\/?$/, '/'));
const { chromium } = require('playwright-core');

const T = Object.assign({ running: 420000, backup: 300000, reflect: 30000, action: 30000 }, sc.timeouts || {});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
let current = 'start';

async function wait(name, extra) {
  out(Object.assign({ wait: name }, extra || {}));
  const { value, done } = await lines.next();
  if (done) throw new Error('stdin closed while waiting for ' + name);
  return JSON.parse(value);
}

function step(name, data) {
  current = name;
  out(Object.assign({ step: name }, data || {}));
}

const text = async (loc) => ((await loc.textContent()) || '').trim();

async function shot(page, name, height) {
  if (!sc.shots) return;
  if (height) await page.setViewportSize({ width: 1200, height });
  await page.screenshot({ path: `${sc.shots}/${name}.png` });
  if (height) await page.setViewportSize({ width: 1200, height: 800 });
}

async function newSession(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 }, ignoreHTTPSErrors: !sc.spki });
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
  // (Chromium logs every 4xx answer as a console error: those are expected here.)
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push('console: ' + m.text()); });
  return { ctx, page, problems };
}

async function login(page, token) {
  await page.goto(sc.base + '/ui/');
  await page.getByTestId('login-token').waitFor();
  await page.getByTestId('login-token').fill(token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('cluster-table').or(page.getByTestId('cluster-table-empty')).or(page.getByTestId('list-error')).waitFor();
}

const clusterHash = () => `#/ns/${sc.namespace}/clusters/${sc.cluster}`;

/* Opens a confirmation with `button`, optionally types/picks, presses OK; answers the message shown. */
async function confirmAction(page, button, opts) {
  const o = opts || {};
  await page.getByTestId('message').evaluate((m) => { m.hidden = true; m.textContent = ''; });
  await page.getByTestId(button).click();
  await page.getByTestId('confirm-panel').waitFor();
  if (o.pick) await page.getByTestId('switchover-target').selectOption(o.pick);
  if (o.type) await page.getByTestId('confirm-input').fill(o.type);
  await page.getByTestId('confirm-ok').click();
  const msg = page.getByTestId('message');
  await msg.and(page.locator(':not([hidden])')).waitFor({ timeout: T.action });
  await page.waitForFunction(() => document.getElementById('msg').textContent !== '', null, { timeout: T.action });
  return { kind: await msg.getAttribute('data-kind'), text: await text(msg) };
}

async function editorPart(browser) {
  const { page, problems, ctx } = await newSession(browser);

  // The login page, then a refused token: the reason is shown and we stay there.
  step('open');
  await page.goto(sc.base + '/');
  await page.getByTestId('login-form').waitFor();
  step('login-page', { url: page.url() });
  await shot(page, 'login');
  await page.getByTestId('login-token').fill('not-a-token');
  await page.getByTestId('login-submit').click();
  await page.waitForFunction(() => document.getElementById('msg').dataset.kind === 'error');
  step('bad-login', { message: await text(page.getByTestId('message')), hash: new URL(page.url()).hash });

  await login(page, sc.editorToken);
  step('logged-in', { whoami: await text(page.getByTestId('whoami')), scope: await text(page.getByTestId('list-scope')),
    storage: await page.evaluate(() => Object.keys(sessionStorage).sort()), cookies: (await ctx.cookies()).length });

  // Create: an invalid value first; the dry run's refusal is shown beside the field.
  await page.getByTestId('new-cluster').click();
  await page.getByTestId('create-form').waitFor();
  await page.getByTestId('field-name').fill(sc.cluster);
  await page.getByTestId('field-namespace').fill(sc.namespace);
  await page.getByTestId('field-postgresVersion').fill(String(sc.version));
  await page.getByTestId('field-instances').fill('0');
  await page.getByTestId('field-storage').fill('1Gi');
  await page.getByTestId('field-backupVolume').fill('1Gi');
  await page.getByTestId('create-submit').click();
  const instErr = page.getByTestId('error-instances');
  await instErr.and(page.locator(':not([hidden])')).waitFor({ timeout: T.action });
  step('create-invalid', { fieldError: await text(instErr), invalid: await page.getByTestId('field-instances').getAttribute('aria-invalid'),
    result: await text(page.getByTestId('create-result')), hash: new URL(page.url()).hash });
  await wait('after-invalid-create');

  // Instances fixed, a name longer than pgwarden's webhook allows: its refusal beside Name.
  await page.getByTestId('field-instances').fill('1');
  await page.getByTestId('field-name').fill(sc.cluster + '-' + 'x'.repeat(50));
  await page.getByTestId('create-submit').click();
  const nameErr = page.getByTestId('error-name');
  await nameErr.and(page.locator(':not([hidden])')).waitFor({ timeout: T.action });
  step('create-webhook-refusal', { fieldError: await text(nameErr), instancesError: await text(instErr),
    instancesErrorHidden: await instErr.isHidden(), invalid: await page.getByTestId('field-name').getAttribute('aria-invalid') });
  await shot(page, 'create-admission-error');
  await wait('after-invalid-create');

  // Fixed: created, and the cluster page follows it until Running.
  await page.getByTestId('field-name').fill(sc.cluster);
  await page.getByTestId('create-submit').click();
  await page.waitForURL((u) => u.hash === clusterHash(), { timeout: T.action });
  step('created', { hash: new URL(page.url()).hash, message: await text(page.getByTestId('message')),
    errorHidden: await instErr.isHidden().catch(() => true) });
  const t0 = Date.now();
  const phases = new Set();
  for (;;) {
    const p = await text(page.getByTestId('detail-phase')).catch(() => '');
    if (p) phases.add(p);
    const ready = await text(page.getByTestId('detail-instances')).catch(() => '');
    const backupReady = await page.locator('[data-testid=condition-table] tr', { hasText: 'BackupReady' }).textContent().catch(() => '');
    if (p === 'Running' && ready.startsWith('1 ready') && /True/.test(backupReady || '')) break;
    if (Date.now() - t0 > T.running) throw new Error(`not Running with BackupReady in the UI after ${T.running} ms (phase ${p}, ${ready})`);
    await page.waitForTimeout(1000);
  }
  step('running', { seconds: (Date.now() - t0) / 1000, phases: [...phases],
    primary: await text(page.getByTestId('detail-primary')),
    instanceRoles: await page.getByTestId('instance-role').allTextContents(),
    services: await page.locator('[data-testid=service-table] tbody tr').count(),
    connection: await page.getByTestId('connection-table').isVisible() });

  // Backup now: listed on the page, with its size once it succeeded.
  const backup = await confirmAction(page, 'action-backup');
  const name = (backup.text.match(/Backup (\S+) requested/) || [])[1] || '';
  step('backup-requested', { message: backup, name });
  await wait('backup-requested', { name });
  const row = page.locator(`[data-testid=backup-row][data-name="${name}"]`);
  await row.waitFor({ timeout: T.reflect });
  const tb = Date.now();
  for (;;) {
    const ph = await text(row.getByTestId('backup-phase'));
    if (ph === 'Succeeded' || ph === 'Failed') break;
    if (Date.now() - tb > T.backup) throw new Error('backup not finished in the UI after ' + T.backup + ' ms');
    await page.waitForTimeout(1000);
  }
  step('backup-listed', { cells: (await row.locator('td').allTextContents()).map((s) => s.trim()),
    window: await text(page.getByTestId('recoverable-window')) });

  // A change made with kubectl shows up on the open page (it polls every 2 s).
  const change = await wait('kubectl-change');
  const tc = Date.now();
  await page.getByTestId('detail-annotations').getByText(change.annotation).waitFor({ timeout: T.reflect });
  const annotationMs = Date.now() - tc;
  await page.waitForFunction((n) => document.querySelector('[data-testid=detail-instances]').textContent.startsWith(n + ' ready'),
    change.instances, { timeout: T.running, polling: 1000 });
  step('kubectl-change-seen', { annotationMs, instancesSeconds: (Date.now() - tc) / 1000,
    instances: await text(page.getByTestId('detail-instances')), rows: await page.getByTestId('instance-row').count() });
  await page.locator('body').evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'cluster-detail', 1150);

  // The credentials: hidden until Show is pressed (the test compares them with the Secret),
  // then still shown after the next polls.
  const hidden = await text(page.getByTestId('connection-table'));
  await page.getByTestId('reveal-password').click();
  const firstData = await page.getByTestId('cluster-detail').getAttribute('data-updated');
  await page.waitForFunction((t) => document.querySelector('[data-testid=cluster-detail]').dataset.updated !== t, firstData,
    { timeout: T.reflect });
  await wait('connection', { hidden, revealed: await text(page.getByTestId('connection-password')) });

  // The clusters list, in every namespace and then in the test's.
  await page.getByTestId('nav-clusters').click();
  await page.locator(`[data-testid=cluster-row][data-name="${sc.cluster}"]`).waitFor();
  const listRow = page.locator(`[data-testid=cluster-row][data-name="${sc.cluster}"]`);
  step('list', { row: (await listRow.locator('td').allTextContents()).map((s) => s.trim()),
    names: await page.getByTestId('cluster-row').evaluateAll((rs) => rs.map((r) => r.dataset.namespace + '/' + r.dataset.name)) });
  // The namespace field narrows the list.
  await page.getByTestId('list-namespace').fill(sc.namespace);
  await page.getByTestId('list-apply').click();
  await page.waitForFunction((ns) => document.querySelector('[data-testid=list-scope]').textContent === 'Namespace ' + ns + '.',
    sc.namespace, { timeout: T.action });
  await page.getByTestId('cluster-row').first().waitFor();
  step('list-namespace', { scope: await text(page.getByTestId('list-scope')),
    names: await page.getByTestId('cluster-row').evaluateAll((rs) => rs.map((r) => r.dataset.namespace + '/' + r.dataset.name)) });
  await shot(page, 'clusters');
  await page.getByTestId('list-namespace').fill('');
  await page.getByTestId('list-apply').click();
  await page.locator(`[data-testid=cluster-row][data-name="${sc.cluster}"] [data-testid=cluster-link]`).click();
  await page.getByTestId('instance-row').nth(1).waitFor();

  // Switchover to the replica: the primary shown changes.
  const before = await text(page.getByTestId('detail-primary'));
  const replica = (await page.locator('[data-testid=instance-row]').evaluateAll((rows) =>
    rows.filter((r) => r.querySelector('[data-testid=instance-role]').textContent !== 'primary').map((r) => r.dataset.name)))[0];
  const sw = await confirmAction(page, 'action-switchover', { pick: replica });
  const ts = Date.now();
  await page.waitForFunction((r) => document.querySelector('[data-testid=detail-primary]').textContent === r, replica,
    { timeout: 120000, polling: 1000 });
  step('switchover', { before, replica, message: sw, seconds: (Date.now() - ts) / 1000,
    after: await text(page.getByTestId('detail-primary')) });
  await wait('switched', { replica });

  // The restore page: the window, and a restore to a time inside it into a new cluster.
  await page.getByTestId('action-restore').click();
  await page.locator('[data-testid=restore-window][data-to]').waitFor({ timeout: T.reflect });
  const win = await page.getByTestId('restore-window').evaluate((e) => ({ from: e.dataset.from, to: e.dataset.to, text: e.textContent }));
  await page.getByTestId('restore-time').fill(win.to);
  await page.getByTestId('restore-name').fill(sc.cluster + '-pitr');
  await shot(page, 'restore');
  await page.getByTestId('restore-submit').click();
  await page.waitForFunction(() => document.getElementById('msg').dataset.kind, null, { timeout: T.action });
  step('restore', { window: win, message: { kind: await page.getByTestId('message').getAttribute('data-kind'),
    text: await text(page.getByTestId('message')) } });
  await page.locator(`[data-testid=restore-row][data-name="${sc.cluster}-pitr"]`).waitFor({ timeout: T.reflect });
  step('restore-listed');
  await wait('restore-created', { name: sc.cluster + '-pitr' });

  return { page, problems, ctx };
}

async function viewerPart(browser) {
  const { page, problems, ctx } = await newSession(browser);
  await login(page, sc.viewerToken);
  step('viewer-list', { scope: await text(page.getByTestId('list-scope')),
    names: await page.getByTestId('cluster-row').evaluateAll((rs) => rs.map((r) => r.dataset.namespace + '/' + r.dataset.name)) });
  await page.goto(sc.base + '/ui/' + clusterHash());
  await page.getByTestId('detail-phase').waitFor();
  const refused = {};
  refused.connection = await text(page.getByTestId('connection'));
  refused.backup = await confirmAction(page, 'action-backup');
  await shot(page, 'viewer-refused');
  const replicas = await page.locator('[data-testid=instance-row]').evaluateAll((rows) =>
    rows.filter((r) => r.querySelector('[data-testid=instance-role]').textContent !== 'primary').map((r) => r.dataset.name));
  refused.switchover = await confirmAction(page, 'action-switchover', { pick: replicas[0] });
  refused.restart = await confirmAction(page, 'action-restart');
  refused.delete = await confirmAction(page, 'action-delete', { type: sc.cluster });
  await page.getByTestId('action-restore').click();
  await page.getByTestId('restore-form').waitFor();
  await page.getByTestId('restore-latest').check();
  await page.getByTestId('restore-name').fill(sc.cluster + '-viewer');
  await page.getByTestId('restore-submit').click();
  await page.waitForFunction(() => document.getElementById('msg').dataset.kind, null, { timeout: T.action });
  refused.restore = { kind: await page.getByTestId('message').getAttribute('data-kind'), text: await text(page.getByTestId('message')) };
  await page.getByTestId('nav-new').click();
  await page.getByTestId('field-name').fill(sc.cluster + '-viewer');
  await page.getByTestId('field-postgresVersion').fill(String(sc.version));
  await page.getByTestId('create-submit').click();
  await page.waitForFunction(() => document.getElementById('msg').dataset.kind === 'error', null, { timeout: T.action });
  refused.create = { kind: 'error', text: await text(page.getByTestId('message')) };
  step('viewer-refusals', refused);
  await ctx.close();
  return problems;
}

async function main() {
  const args = ['--no-sandbox', '--disable-dev-shm-usage'];
  if (sc.spki) args.push('--ignore-certificate-errors-spki-list=' + sc.spki);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args });
  try {
    const ed = await editorPart(browser);
    await wait('before-viewer');
    const viewerProblems = await viewerPart(browser);
    await wait('after-viewer');

    // The editor deletes the cluster: OK stays disabled until the name is typed.
    const page = ed.page;
    await page.goto(sc.base + '/ui/' + clusterHash());
    await page.getByTestId('detail-phase').waitFor();
    await page.getByTestId('action-delete').click();
    await page.getByTestId('confirm-input').fill(sc.cluster + 'x');
    const disabledOnTypo = await page.getByTestId('confirm-ok').isDisabled();
    await page.getByTestId('confirm-cancel').click();
    const del = await confirmAction(page, 'action-delete', { type: sc.cluster });
    await page.waitForURL((u) => u.hash === '#/', { timeout: T.action });
    step('deleted', { disabledOnTypo, message: del, hash: new URL(page.url()).hash });

    // A 401 (a token the server never issued) ends the session: back to the login page with the reason.
    const jwt = await page.evaluate(() => sessionStorage.getItem('pgw.token'));
    await page.evaluate(() => sessionStorage.setItem('pgw.token', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA'));
    await page.goto(sc.base + '/ui/' + clusterHash());
    await page.getByTestId('login-form').waitFor({ timeout: T.action });
    step('bad-session', { message: await text(page.getByTestId('message')), hash: new URL(page.url()).hash,
      token: await page.evaluate(() => sessionStorage.getItem('pgw.token')) });

    // Log out revokes the session token: the same token is refused afterwards.
    await page.evaluate((t) => sessionStorage.setItem('pgw.token', t), jwt);
    await page.goto(sc.base + '/ui/#/');
    await page.getByTestId('logout').waitFor();
    await page.getByTestId('logout').click();
    await page.getByTestId('login-form').waitFor();
    const after = await page.evaluate(async (t) => {
      const r = await fetch('/api/v1/whoami', { headers: { Authorization: 'Bearer ' + t } });
      return { code: r.status, body: await r.json().catch(() => null) };
    }, jwt);
    step('logout', { message: await text(page.getByTestId('message')), whoamiAfter: after,
      storage: await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k !== 'pgw.flash')) });
    step('page-problems', { editor: ed.problems, viewer: viewerProblems });
    await ed.ctx.close();
    out({ done: true });
  } catch (e) {
    out({ error: String(e && e.stack || e), step: current });
    process.exitCode = 1;
  } finally {
    await browser.close();
    lines.return && lines.return();
  }
}

await main();
// stdout to a pipe is asynchronous: exit only once every line has been written.
await new Promise((resolve) => process.stdout.write('', resolve));
process.exit(process.exitCode || 0);
