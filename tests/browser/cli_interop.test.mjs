// The browser and the native CLI in one room: both are the same client engine, one compiled
// to WebAssembly, one native, talking to the real server. A CLI script's messages reach the
// page and its history shows the page's; a CLI session that stays connected and the page hold
// a live conversation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DemoUser, occurrences } from './support/browser.mjs';
import { CliSession, runCli } from './support/cli.mjs';
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

  test('a CLI session that stays connected and the browser talk live', async () => {
    const dave = new CliSession(server, { user: 'dave', room: 'general' });
    let exitCode;
    try {
      // Connected and in the room: what alice says from now on reaches dave as it happens.
      await dave.waitForLine(/^joined #general/);

      await alice.send('Hi dave, are you on the terminal?');
      await dave.waitForChat('alice: Hi dave, are you on the terminal?');

      dave.say('Yes, typing in a shell');
      await alice.waitForMessages(['Yes, typing in a shell']);
      const authors = await alice.page.locator('#message-list .message-author').allTextContents();
      assert.ok(authors.includes('dave'), `authors on the page: ${authors}`);
      await eventually("dave online on alice's page", () => alice.presenceOf('dave'), (s) => s === 'online');

      // The CLI also hears alice typing, between her keystrokes and her Enter.
      await alice.typeWithoutSending('Great, I see you live');
      await dave.waitForLine(/^ {2}alice is typing…$/);
      await alice.page.getByLabel('Message', { exact: true }).press('Enter');
      await dave.waitForChat('alice: Great, I see you live');

      dave.say('Bye for now');
      const shown = await alice.waitForMessages(['Bye for now']);
      const conversation = ['alice: Hi dave, are you on the terminal?', 'dave: Yes, typing in a shell',
        'alice: Great, I see you live', 'dave: Bye for now'];
      assert.deepEqual(shown.slice(-4), conversation.map((line) => line.replace(/^\w+: /, '')));
      await dave.waitForChat('dave: Bye for now');
      assert.ok(dave.running(), `the CLI session stayed connected; it printed:\n${dave.output}`);
      // Each line once, in the order spoken.
      assert.deepEqual(dave.chat().filter((line) => conversation.includes(line)), conversation, dave.output);
      exitCode = await dave.stop();
    } finally {
      await dave.stop();
    }
    assert.equal(exitCode, 0, dave.output);
    // dave closed his terminal: the page shows when he was last seen.
    await eventually("dave's last seen", () => alice.presenceOf('dave'), (s) => s.startsWith('last seen'));
    assert.deepEqual(alice.errors, []);
  });
});
