// The browser and the native CLI in one room: both are the same client engine, one compiled
// to WebAssembly, one native, talking to the real server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DemoUser, occurrences } from './support/browser.mjs';
import { runCli } from './support/cli.mjs';
import { ServerProcess } from './support/server.mjs';
import { eventually } from './support/wait.mjs';

describe('web demo and the parley CLI', () => {
  let server;
  let alice;

  before(async () => {
    server = await ServerProcess.start(['--presence-grace-ms', '1000']);
    alice = await DemoUser.signIn(server, 'alice');
  });

  after(async () => {
    await alice?.close();
    await server?.stop();
  });

  test("the browser shows the CLI's messages, and the CLI's history shows the browser's", async () => {
    const fromTerminal = ['Hello from the terminal', 'Second line from carol'];
    const first = await runCli(server, { user: 'carol', room: 'general', lines: fromTerminal });
    assert.equal(first.code, 0, first.output);

    const shown = await alice.waitForMessages(fromTerminal);
    for (const line of fromTerminal) assert.equal(occurrences(shown, line), 1);
    const authors = await alice.page.locator('#message-list .message-author').allTextContents();
    assert.ok(authors.includes('carol'), `authors on the page: ${authors}`);
    // carol left: the People panel shows when she was last seen.
    await eventually("carol's last seen", () => alice.presenceOf('carol'), (s) => s.startsWith('last seen'));

    await alice.send('Hi carol, this is the browser');
    await alice.waitForStatus('Hi carol, this is the browser', '✓ Sent');

    const second = await runCli(server, { user: 'carol', room: 'general' });
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /alice: Hi carol, this is the browser/);
    assert.match(second.output, /carol: Hello from the terminal/);
    assert.deepEqual(alice.errors, []);
  });
});
