// Delivery through outages, as people see it in the web demo: messages sent while a reader is
// cut off reach them exactly once after they reconnect, and a message written while offline
// survives a page reload (the SDK keeps its outbox in localStorage) and is delivered once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DemoUser, occurrences, saveScreenshot } from './support/browser.mjs';
import { ServerProcess } from './support/server.mjs';

const serverArgs = ['--heartbeat-ms', '1000', '--presence-grace-ms', '1000', '--typing-expiry-ms', '2000'];

describe('web demo: delivery across outages', () => {
  let server;
  let alice;
  let bob;

  before(async () => {
    server = await ServerProcess.start(serverArgs);
    alice = await DemoUser.signIn(server, 'alice', { socketSwitch: true });
    bob = await DemoUser.signIn(server, 'bob', { socketSwitch: true });
  });

  after(async () => {
    await alice?.close();
    await bob?.close();
    await server?.stop();
  });

  test('bob is cut off while alice keeps sending; after reconnecting he has each message once', async () => {
    await alice.send('Before the outage');
    await bob.waitForMessages(['Before the outage']);

    await bob.sockets.block();
    await bob.waitForConnection('Reconnecting');
    const during = Array.from({ length: 8 }, (_, i) => `While bob is away ${i + 1}`);
    for (const line of during) await alice.send(line);
    for (const line of during) await alice.waitForStatus(line, '✓ Sent');
    // Nothing reached bob's page while he was cut off.
    assert.equal((await bob.messages()).filter((text) => during.includes(text)).length, 0);

    bob.sockets.unblock();
    await bob.reconnect();
    await bob.waitForMessages(during);
    await alice.send('After the outage');
    const shown = await bob.waitForMessages(['After the outage']);
    assert.deepEqual(shown, ['Before the outage', ...during, 'After the outage']);
    for (const line of shown) assert.equal(occurrences(shown, line), 1, line);
    assert.deepEqual(bob.errors, []);
  });

  test('a message sent while offline survives a reload and is delivered once', async () => {
    const line = 'Written on the train, sent after the tunnel';
    await alice.sockets.block();
    await alice.waitForConnection('Reconnecting');
    await alice.send(line);
    await alice.waitForStatus(line, 'Sending…');
    await saveScreenshot(alice.page, 'web-demo-offline');

    // Still offline after the reload: the message is back on screen, waiting.
    await alice.reload();
    await alice.waitForMessages([line]);
    assert.equal(await alice.statusOf(line), 'Sending…');
    await alice.waitForConnection('Reconnecting');

    alice.sockets.unblock();
    await alice.reconnect();
    await alice.waitForStatus(line, '✓ Sent');
    const bobSees = await bob.waitForMessages([line]);
    assert.equal(occurrences(bobSees, line), 1);
    assert.equal(occurrences(await alice.messages(), line), 1);

    // Once acknowledged it leaves the outbox: another reload sends nothing again.
    await alice.reload();
    await alice.waitForConnection('Connected');
    await alice.send('One more, to be sure');
    await bob.waitForMessages(['One more, to be sure']);
    await alice.waitForMessages([line, 'One more, to be sure']);
    assert.equal(occurrences(await bob.messages(), line), 1);
    assert.equal(occurrences(await alice.messages(), line), 1);
    assert.deepEqual(alice.errors, []);
  });
});
