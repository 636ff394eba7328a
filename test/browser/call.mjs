// Browser end-to-end test of the demo page: two Chromium pages on two signaling nodes make
// a real peer-to-peer call. Started by browser_test.go (make test-browser), which runs Redis,
// the two nodes and this script inside a network namespace that has only loopback.
//
// Environment: NODE1_URL, NODE2_URL, ROOM, ARTIFACTS (directory for screenshots),
// RECONNECT_WINDOW_MS, CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const NODE1 = env('NODE1_URL');
const NODE2 = env('NODE2_URL');
const ROOM = env('ROOM');
const ARTIFACTS = env('ARTIFACTS');
const WINDOW_MS = Number(env('RECONNECT_WINDOW_MS'));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');

const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// waitFor polls fn (in Node) until it returns a truthy value.
async function waitFor(what, fn, timeoutMs = 30000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last?.message ?? last)})`);
    await sleep(everyMs);
  }
}

mkdirSync(ARTIFACTS, { recursive: true });
// A fresh profile every run: nothing cached, no stored permissions.
const userDataDir = mkdtempSync(join(tmpdir(), 'switchboard-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    '--no-sandbox',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--allow-loopback-in-peer-connection',
    '--disable-default-apps',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    '--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,WebRtcHideLocalIpsWithMdns',
    '--no-pings',
    '--metrics-recording-only',
    '--password-store=basic',
    '--autoplay-policy=no-user-gesture-required',
    '--dns-prefetch-disable',
  ],
});

const pages = [];
let failed = false;
try {
  log('chromium', context.browser()?.version() ?? '(persistent context)');
  async function open(label, base, name) {
    const page = await context.newPage();
    pages.push(page);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log(`${label} console.${m.type()}:`, m.text());
    });
    page.on('pageerror', (e) => log(`${label} page error:`, e.message));
    page.on('response', (r) => { if (r.status() >= 400) log(`${label} HTTP ${r.status()} ${r.url()}`); });
    await page.goto(`${base}/demo?room=${encodeURIComponent(ROOM)}`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#name', name);
    await page.click('#join');
    await page.waitForFunction(() => window.switchboardDemo.joined, null, { timeout: 15000 });
    check(!(await page.isVisible('#join-form')) && await page.isVisible('#call'), `${label}: the join form is still shown after joining`);
    const self = await page.evaluate(() => window.switchboardDemo.self);
    log(`${label} joined ${ROOM} on ${base} as ${self.userId}`);
    return { page, label, self };
  }

  const a = await open('A', NODE1, 'Alice');
  const b = await open('B', NODE2, 'Bob');

  // Both see each other.
  for (const [me, other] of [[a, b], [b, a]]) {
    await me.page.waitForSelector(`#participants li[data-user-id="${other.self.userId}"]`, { timeout: 10000 });
  }
  log('participants listed on both pages');

  // Both reach RTCPeerConnection.connectionState === "connected" with exactly one peer.
  for (const p of [a, b]) {
    await waitFor(`${p.label}'s peer connection to be connected`, async () => {
      const states = await p.page.evaluate(() => window.switchboardDemo.peerStates());
      const vals = Object.values(states);
      return vals.length === 1 && vals[0] === 'connected' ? states : null;
    });
  }
  log('both peer connections are connected');

  // Each page shows one remote video that plays: currentTime advances.
  for (const p of [a, b]) {
    const n = await p.page.locator('.tile.remote video').count();
    check(n === 1, `${p.label} shows ${n} remote videos, want 1`);
    const first = await waitFor(`${p.label}'s remote video to have frames`, () =>
      p.page.evaluate(() => {
        const v = document.querySelector('.tile.remote video');
        return v.videoWidth > 0 && v.currentTime > 0 ? { t: v.currentTime, w: v.videoWidth, h: v.videoHeight } : null;
      }));
    await sleep(1500);
    const later = await p.page.evaluate(() => {
      const v = document.querySelector('.tile.remote video');
      return { t: v.currentTime, paused: v.paused };
    });
    check(!later.paused && later.t > first.t + 0.5, `${p.label}'s remote video does not play: currentTime ${first.t} → ${later.t}, paused=${later.paused}`);
    log(`${p.label} remote video ${first.w}x${first.h} plays: currentTime ${first.t.toFixed(2)} → ${later.t.toFixed(2)}`);
  }

  // A chat message typed in A appears in B (and in A: the sender gets it too).
  const text = `hello from Alice ${Math.random().toString(36).slice(2, 8)}`;
  await a.page.fill('#chat-input', text);
  await a.page.click('#chat-send');
  for (const p of [b, a]) {
    await p.page.waitForFunction(
      (t) => [...document.querySelectorAll('#messages li.chat-message .content')].some((e) => e.textContent === t),
      text, { timeout: 10000 });
  }
  log(`chat message "${text}" shown on B`);
  check(await a.page.locator('.notice.error').count() === 0, 'page A shows an error notice: ' + await a.page.locator('.notice.error').allTextContents());
  check(await b.page.locator('.notice.error').count() === 0, 'page B shows an error notice: ' + await b.page.locator('.notice.error').allTextContents());

  // B's connection to node 2 drops (transport closed, no leave): socket.io-client reconnects,
  // the page joins again within the window, and A sees neither a leave nor a join.
  const joinedMsgs = (p, who) => p.page.evaluate((w) => [...document.querySelectorAll('#messages li.system')]
    .filter((e) => e.textContent.startsWith(w + ' ')).map((e) => e.textContent), who);
  const before = await joinedMsgs(a, 'Bob');
  const dropAt = Date.now();
  await b.page.evaluate(() => window.switchboardDemo.socket.io.engine.close());
  await b.page.waitForFunction(() => !window.switchboardDemo.joined, null, { timeout: 5000 });
  await b.page.waitForFunction(() => window.switchboardDemo.connected && window.switchboardDemo.joined, null, { timeout: 10000 });
  log(`B reconnected and joined again ${Date.now() - dropAt} ms after its transport closed`);
  await sleep(Math.max(0, dropAt + WINDOW_MS + 1500 - Date.now())); // past the reconnection window
  const afterReconnect = await joinedMsgs(a, 'Bob');
  check(JSON.stringify(afterReconnect) === JSON.stringify(before), `A saw churn when B reconnected (window ${WINDOW_MS} ms): ${JSON.stringify(before)} → ${JSON.stringify(afterReconnect)}`);
  check((await a.page.evaluate(() => window.switchboardDemo.participants())).includes(b.self.userId), 'A lost B after B reconnected');
  for (const p of [a, b]) {
    const states = Object.values(await p.page.evaluate(() => window.switchboardDemo.peerStates()));
    check(states.length === 1 && states[0] === 'connected', `${p.label}'s call after B's reconnect: ${JSON.stringify(states)}`);
  }
  log('A saw no leave/join, the call stayed connected');

  await b.page.screenshot({ path: join(ARTIFACTS, 'demo-call.png') });
  await a.page.screenshot({ path: join(ARTIFACTS, 'demo-call-A.png') });
  log(`screenshots in ${ARTIFACTS}`);

  // Close A's tab (no leave_room): B keeps A through the reconnection window, then shows A left.
  const closedAt = Date.now();
  await a.page.close();
  pages.splice(pages.indexOf(a.page), 1);
  const gone = `#participants li[data-user-id="${a.self.userId}"]`;
  await sleep(Math.min(1000, WINDOW_MS / 2));
  check(await b.page.locator(gone).count() === 1, 'B dropped A before the reconnection window ended');
  await b.page.waitForSelector(gone, { state: 'detached', timeout: WINDOW_MS + 15000 });
  const after = Date.now() - closedAt;
  await b.page.waitForFunction(
    () => [...document.querySelectorAll('#messages li.system')].some((e) => /^Alice left \(disconnected\)$/.test(e.textContent)),
    null, { timeout: 5000 });
  check(await b.page.locator('.tile.remote').count() === 0, 'B still shows a remote video after A left');
  check(after >= WINDOW_MS * 0.8, `B showed A left after ${after} ms, before the ${WINDOW_MS} ms reconnection window`);
  log(`B shows "Alice left (disconnected)" ${after} ms after A's tab closed (window ${WINDOW_MS} ms)`);
  // Server errors are shown: an unknown event gets the `error` event (no ack)...
  await b.page.evaluate(() => window.switchboardDemo.socket.emit('no_such_event', {}));
  await b.page.waitForSelector('.notice.error:has-text("unknown_event")', { timeout: 5000 });
  // ...and a failed ack too (chat after leaving the room: not_in_room).
  await b.page.evaluate(() => window.switchboardDemo.socket.emit('leave_room', {}));
  await b.page.fill('#chat-input', 'anyone?');
  await b.page.click('#chat-send');
  await b.page.waitForSelector('.notice.error:has-text("not_in_room")', { timeout: 5000 });
  log('B shows the server\'s error event and a failed ack');
  await b.page.screenshot({ path: join(ARTIFACTS, 'demo-after-leave.png') });
  console.log('BROWSER TEST PASSED');
} catch (err) {
  failed = true;
  console.log('BROWSER TEST FAILED:', err.stack || err);
  for (const [i, p] of pages.entries()) {
    try {
      await p.screenshot({ path: join(ARTIFACTS, `failure-${i}.png`) });
      const dump = await p.evaluate(() => ({
        status: document.getElementById('status').textContent,
        notices: [...document.querySelectorAll('.notice')].map((n) => n.textContent),
        messages: [...document.querySelectorAll('#messages li')].map((n) => n.textContent),
        peers: window.switchboardDemo.peerStates(),
      }));
      console.log(`page ${i} state:`, JSON.stringify(dump));
    } catch (e) {
      console.log(`page ${i}: no dump (${e.message})`);
    }
  }
} finally {
  await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
