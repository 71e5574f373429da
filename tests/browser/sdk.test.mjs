// The npm package as a web developer uses it (tests/browser/pages/sdk.html follows the README
// example): import parley.mjs, connect, join, send and await the ack, hear messages, typing,
// presence and connection states, have a send refused, load history. And the example in
// README.md (the same block as in wasm/README.md), run as written.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { chromiumPath, readme, wasmReadme } from './support/environment.mjs';
import { ServerProcess } from './support/server.mjs';
import { eventually } from './support/wait.mjs';

describe('the parley npm package in a browser', () => {
  let server;
  let profile;
  let context;

  before(async () => {
    server = await ServerProcess.start(['--typing-expiry-ms', '1500', '--max-text', '100']);
    profile = await mkdtemp(join(tmpdir(), 'parley-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await server?.stop();
  });

  test('connect, join, send with an ack promise, and every kind of event', async () => {
    const page = context.pages()[0] ?? await context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.baseUrl}/test/sdk.html`);
    const log = page.locator('#log');
    const expected = [
      'alice state connecting', 'alice state handshaking', 'alice state ready',
      'bob state ready',
      'alice acked same-cid seq 1 general',
      'alice got #general 1 alice: Hello from the SDK',
      'bob got #general 1 alice: Hello from the SDK',
      'alice sees bob typing in #general',
      'alice sees bob not typing in #general',   // the engine's expiry, 1.5 s later
      'alice refused true too_large',
      'alice history Hello from the SDK more=false',
      'script done',
    ];
    const text = await eventually('the SDK page to log every step', () => log.textContent(),
      (shown) => expected.every((line) => shown.split('\n').includes(line)), 20_000);
    const lines = text.split('\n');
    // Presence arrives with the join (members) and then as events (the demo tests show those).
    assert.ok(lines.includes('bob joined #general with alice:online,bob:online'), text);
    assert.ok(lines.indexOf('alice state ready') > lines.indexOf('alice state handshaking'));
    assert.deepEqual(errors, []);
  });

  test("README.md's example runs as written, and wasm/README.md shows the same one", async () => {
    const exampleOf = async (file) =>
      /\n## Use in the browser\n(?:(?!\n## )[\s\S])*?```js\n([\s\S]*?)```/.exec(await readFile(file, 'utf8'))?.[1];
    const example = await exampleOf(readme);
    assert.ok(example, 'README.md has a js block in "## Use in the browser"');
    assert.equal(await exampleOf(wasmReadme), example,
      'wasm/README.md\'s "Use in the browser" block is the same as README.md\'s');
    const page = await context.newPage();
    const logged = [];
    const errors = [];
    page.on('console', (message) => logged.push(message.text()));
    page.on('pageerror', (error) => errors.push(error.message));
    // pages/example.html maps the bare 'parley' import with an import map, as the README says.
    await page.route('**/test/example.mjs', (route) =>
      route.fulfill({ contentType: 'text/javascript', body: example }));
    await page.goto(`${server.baseUrl}/test/example.html`);
    await eventually('the example to log its ack', () => logged,
      (lines) => lines.some((line) => /^stored as #\d+$/.test(line)), 15_000);
    assert.ok(logged.includes('connection: ready'), logged.join('\n'));
    assert.ok(logged.some((line) => /^#general alice: Hello from the browser!$/.test(line)), logged.join('\n'));
    assert.deepEqual(errors, []);
    await page.close();
  });
});
