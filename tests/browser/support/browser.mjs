// Debian's headless Chromium through playwright-core, and a person using the web demo.
// DemoUser reads the page as a person does (names, messages, statuses, the typing line) and
// acts through its controls; it never reaches into the page's scripts.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { artifacts, chromiumPath } from './environment.mjs';
import { eventually } from './wait.mjs';

// TOOLCHAIN.md's flags for Debian's Chromium (headless comes from the launch option).
const chromiumArgs = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * One person's browser: a persistent context in a fresh profile folder, so each user has their
 * own storage and network (and can be taken offline alone). close() removes the folder.
 */
async function launchProfile(viewport) {
  const profile = await mkdtemp(join(tmpdir(), 'parley-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: chromiumArgs, viewport,
  });
  return { context, profile };
}

/** Saves a screenshot of `page` as `name`.png in the artifacts folder; returns its path. */
export async function saveScreenshot(page, name) {
  await mkdir(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * Lets a test cut one person's WebSocket connections (both ends see them close, as when a
 * network drops) and refuse new ones, while HTTP keeps working so the page can be reloaded.
 */
class SocketSwitch {
  #blocked = false;
  #live = new Set();  // [page side, server side]

  async install(context) {
    await context.routeWebSocket(/\/ws$/, (socket) => {
      if (this.#blocked) {
        socket.close({ code: 1011, reason: 'blocked by test' });
        return;
      }
      this.#live.add([socket, socket.connectToServer()]);
    });
  }

  /** Closes every open connection and refuses new ones until unblock(). */
  async block() {
    this.#blocked = true;
    for (const [page, server] of this.#live) {
      await page.close({ code: 1011, reason: 'cut by test' });
      await server.close({ code: 1011, reason: 'cut by test' });
    }
    this.#live.clear();
  }

  /** Lets new connections through again. */
  unblock() {
    this.#blocked = false;
  }
}

/** A person signed in to the demo in their own browser context. */
export class DemoUser {
  /** Page errors (uncaught exceptions) seen so far: a healthy page has none. */
  errors = [];

  constructor(name, { context, profile }, page, sockets) {
    this.name = name;
    this.context = context;
    this.profile = profile;
    this.page = page;
    this.sockets = sockets;
    page.on('pageerror', (error) => this.errors.push(error.message));
  }

  /**
   * Opens the demo and signs in with a development name; resolves once connected.
   * viewport: {width, height}; socketSwitch: route the context's WebSockets through a SocketSwitch.
   */
  static async signIn(server, name, { viewport = { width: 1280, height: 800 }, socketSwitch = false } = {}) {
    const browser = await launchProfile(viewport);
    const sockets = socketSwitch ? new SocketSwitch() : null;
    if (sockets) await sockets.install(browser.context);
    const page = browser.context.pages()[0] ?? await browser.context.newPage();
    const user = new DemoUser(name, browser, page, sockets);
    try {
      await user.page.goto(`${server.baseUrl}/`);
      await user.page.getByLabel('Your name').fill(name);
      await user.page.getByRole('button', { name: 'Sign in' }).click();
      await user.waitForConnection('Connected');
    } catch (error) {
      await user.close();
      throw error;
    }
    return user;
  }

  /** Reloads the page, as a person pressing F5; the tab stays signed in. */
  async reload() {
    await this.page.reload();
    await eventually(`${this.name}'s chat to show after the reload`,
      () => this.page.locator('#room-name').textContent(), (title) => title.startsWith('# '));
  }

  /**
   * Waits until the page is connected again, clicking "Retry now" (shown while it waits for
   * the next attempt) rather than sitting out the backoff, as an impatient person does.
   */
  async reconnect(timeoutMs = 20_000) {
    const retry = this.page.getByRole('button', { name: 'Retry now' });
    await eventually(`${this.name}'s page to reconnect`, async () => {
      const text = await this.connection();
      if (!text.startsWith('Connected') && await retry.isVisible()) {
        await retry.click({ timeout: 1000 }).catch(() => {});  // it may vanish as we click
      }
      return text;
    }, (text) => text.startsWith('Connected'), timeoutMs);
  }

  /** Text of the connection indicator ("Connected", "Reconnecting in 3 s", ...). */
  connection() {
    return this.page.locator('#connection-text').textContent();
  }

  waitForConnection(prefix, timeoutMs = 20_000) {
    return eventually(`${this.name}'s page to show "${prefix}"`, () => this.connection(),
      (text) => text.startsWith(prefix), timeoutMs);
  }

  /**
   * Watches the reconnect countdown as a person does: waits (up to `timeoutMs`) for
   * "Reconnecting in N s" with N >= `from`, calls `onCounting()` then (without waiting for it),
   * and reads the indicator every 100 ms until it shows something else. Returns each number
   * shown, in order, with when it first showed ({seconds, at}), and the text that followed.
   * Never clicks "Retry now".
   */
  async watchCountdown({ from = 3, timeoutMs = 60_000, onCounting = () => {} } = {}) {
    const countdown = /^Reconnecting in (\d+) s$/;
    const first = await eventually(`${this.name}'s page to count down from ${from} s or more`,
      () => this.connection(), (text) => Number(countdown.exec(text)?.[1] ?? 0) >= from, timeoutMs);
    const shown = [{ seconds: Number(countdown.exec(first)[1]), at: Date.now() }];
    onCounting();
    // The engine's backoff is capped at 30 s: no countdown outlasts that.
    const deadline = Date.now() + (shown[0].seconds + 10) * 1000;
    for (;;) {
      await sleep(100);
      const text = await this.connection();
      const match = countdown.exec(text);
      if (!match) return { shown, then: text };
      const seconds = Number(match[1]);
      if (seconds !== shown.at(-1).seconds) shown.push({ seconds, at: Date.now() });
      if (Date.now() > deadline) {
        throw new Error(`${this.name}'s countdown did not end: ${JSON.stringify(shown)}`);
      }
    }
  }

  /** Types into the composer key by key (as a person does) and presses Enter. */
  async send(text) {
    const box = this.page.getByLabel('Message', { exact: true });
    await box.fill(text);
    await box.press('Enter');
  }

  /** Types without sending: each keystroke reaches the SDK's typing throttle. */
  async typeWithoutSending(text) {
    await this.page.getByLabel('Message', { exact: true }).pressSequentially(text, { delay: 30 });
  }

  /** Message texts in the open room, top to bottom. */
  messages() {
    return this.page.locator('#message-list .message-words').allTextContents();
  }

  /** Waits until every text in `expected` is on screen; returns all message texts. */
  waitForMessages(expected, timeoutMs = 20_000) {
    return eventually(`${this.name} to see ${JSON.stringify(expected)}`, () => this.messages(),
      (shown) => expected.every((text) => shown.includes(text)), timeoutMs);
  }

  /** The status shown beside one of the user's own messages ("Sending…", "✓ Sent"). */
  statusOf(text) {
    return this.page.locator('#message-list .message')
      .filter({ has: this.page.locator('.message-words', { hasText: text }) })
      .locator('.message-status').textContent();
  }

  waitForStatus(text, status, timeoutMs = 20_000) {
    return eventually(`"${text}" on ${this.name}'s page to be ${status}`, () => this.statusOf(text),
      (shown) => shown === status, timeoutMs);
  }

  /** The "bob is typing" line under the conversation. */
  typingLine() {
    return this.page.locator('#typing').textContent();
  }

  /** Second line of a member in the People panel: "online", "away", "last seen ...". */
  async presenceOf(user) {
    const member = this.page.locator('#member-list .member')
      .filter({ has: this.page.locator('.member-name', { hasText: new RegExp(`^${user}( \\(you\\))?$`) }) });
    return (await member.count()) === 0 ? '' : member.locator('.member-seen').textContent();
  }

  /** The unread badge beside a room in the sidebar ('' when none). */
  async unreadBadge(room) {
    const link = this.page.locator('#my-rooms .room-link', { hasText: room });
    const badge = link.locator('.badge');
    return (await badge.count()) === 0 ? '' : badge.textContent();
  }

  /** Opens (joining if needed) a room through the sidebar's form. */
  async joinRoom(room) {
    await this.page.getByLabel('Join or create a room').fill(room);
    await this.page.getByLabel('Join or create a room').press('Enter');
    await eventually(`${this.name} to open #${room}`, () => this.page.locator('#room-name').textContent(),
      (title) => title === `# ${room}`);
  }

  /** Clicks a room in "Your rooms". */
  async openRoom(room) {
    await this.page.locator('#my-rooms .room-link', { hasText: room }).click();
  }

  /** Closes this person's browser and removes its profile. */
  async close() {
    await this.context.close();
    await rm(this.profile, { recursive: true, force: true });
  }
}

/** How many times `text` appears in `texts`. */
export function occurrences(texts, text) {
  return texts.filter((t) => t === text).length;
}
