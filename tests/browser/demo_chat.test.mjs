// The web demo as people use it: two people chat, see each other type, see who is online and
// when others were last seen, read older history by scrolling up, and follow unread counts.
// Everything is checked as text on the page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DemoUser, saveScreenshot } from './support/browser.mjs';
import { ServerProcess } from './support/server.mjs';
import { eventually } from './support/wait.mjs';

// Short protocol timings so that expiry and presence are observable in seconds.
const typingExpiryMs = 3000;
const serverArgs = [
  '--typing-expiry-ms', String(typingExpiryMs), '--typing-throttle-ms', '1000',
  '--presence-grace-ms', '1000', '--heartbeat-ms', '1000',
];

describe('web demo: chatting', () => {
  let server;
  let alice;
  let bob;

  before(async () => {
    server = await ServerProcess.start(serverArgs);
    alice = await DemoUser.signIn(server, 'alice');
    bob = await DemoUser.signIn(server, 'bob');
  });

  after(async () => {
    await alice?.close();
    await bob?.close();
    await server?.stop();
  });

  test('alice and bob chat in order, and own messages show as sent', async () => {
    const lines = [
      'Hi Bob, are you there?', 'Hi Alice! Yes.', 'Did the release go out?',
      'It did, twenty minutes ago.', 'Great, thanks!', 'You are welcome.',
    ];
    for (const [i, line] of lines.entries()) {
      const speaker = i % 2 === 0 ? alice : bob;
      await speaker.send(line);
      // A person answers what they have read: wait until both pages show the line.
      await alice.waitForMessages([line]);
      await bob.waitForMessages([line]);
    }
    assert.deepEqual(await alice.messages(), lines);
    assert.deepEqual(await bob.messages(), lines);
    await alice.waitForStatus(lines[0], '✓ Sent');
    await bob.waitForStatus(lines[1], '✓ Sent');
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(bob.errors, []);
  });

  test("bob's typing shows on alice's page and disappears after the protocol's expiry", async () => {
    // The first keystroke sends typing(on); the next ones fall inside the throttle window, so
    // the expiry runs from the first one.
    const typingStarted = Date.now();
    await bob.typeWithoutSending('I am writing a long');
    await eventually('alice to see bob typing', () => alice.typingLine(), (line) => line === 'bob is typing');
    // Bob stops typing but leaves the text in place: no "stopped" is sent, so only the
    // receiver's expiry can clear the line.
    await eventually('the typing line to clear', () => alice.typingLine(), (line) => line === '', typingExpiryMs + 5000);
    const shownFor = Date.now() - typingStarted;
    assert.ok(shownFor >= typingExpiryMs - 300, `cleared after ${shownFor} ms, before the ${typingExpiryMs} ms expiry`);

    // Sending ends typing at once: receivers clear it when the message arrives.
    await bob.typeWithoutSending(' answer');
    await eventually('alice to see bob typing again', () => alice.typingLine(), (line) => line === 'bob is typing');
    const sentAt = Date.now();
    await bob.page.getByLabel('Message', { exact: true }).press('Enter');
    await alice.waitForMessages(['I am writing a long answer']);
    await eventually('the typing line to clear on the message', () => alice.typingLine(), (line) => line === '');
    assert.ok(Date.now() - sentAt < typingExpiryMs, 'the message, not the expiry, cleared the typing line');
  });

  test('alice sees bob go offline with when he was last seen, then come back online', async () => {
    assert.equal(await alice.presenceOf('alice'), 'online');
    await bob.context.setOffline(true);
    await eventually('bob last seen on alice\'s page', () => alice.presenceOf('bob'),
      (s) => s === 'last seen just now', 20_000);
    await bob.waitForConnection('Reconnecting');
    await bob.context.setOffline(false);
    await bob.reconnect();
    await eventually('bob online again', () => alice.presenceOf('bob'), (s) => s === 'online');
    assert.match(await alice.page.locator('#room-subtitle').textContent(), /^2 members, 2 online$/);
  });

  test('someone who joins the room alice is reading is among its people before saying anything', async () => {
    await alice.joinRoom('quiet');
    await eventually('alice alone in #quiet', () => alice.page.locator('#room-subtitle').textContent(),
      (t) => /^1 member, 1 online$/.test(t));
    await bob.joinRoom('quiet');
    await eventually('bob among the people of #quiet', () => alice.page.locator('#room-subtitle').textContent(),
      (t) => /^2 members, 2 online$/.test(t));
    assert.equal(await alice.presenceOf('bob'), 'online');
  });

  test('unread counts follow messages in rooms alice is not looking at', async () => {
    await alice.joinRoom('random');
    await bob.joinRoom('random');
    await alice.openRoom('general');
    await bob.send('Anyone in random?');
    await bob.send('Lunch at noon.');
    await eventually('an unread badge of 2', () => alice.unreadBadge('random'), (b) => b === '2');
    assert.equal(await alice.page.title(), '(2) Parley');
    await alice.openRoom('random');
    await alice.waitForMessages(['Anyone in random?', 'Lunch at noon.']);
    assert.equal(await alice.unreadBadge('random'), '');
    assert.equal(await alice.page.title(), 'Parley');
  });

  test('scrolling up loads older history until the beginning of the room', async () => {
    const count = 130;
    await bob.joinRoom('archive');
    for (let i = 1; i <= count; i += 1) await bob.send(`archive line ${i}`);
    await bob.waitForStatus(`archive line ${count}`, '✓ Sent', 30_000);

    await alice.joinRoom('archive');
    await alice.waitForMessages([`archive line ${count}`]);
    const firstPage = await alice.messages();
    assert.ok(firstPage.length < count, `the first page holds only the newest messages, got ${firstPage.length}`);
    const edge = alice.page.locator('#history-edge');
    // Each scroll to the top loads one older page; a bounded number of them reaches the start.
    for (let i = 0; i < 10 && (await edge.textContent()) !== 'This is the beginning of #archive.'; i += 1) {
      await alice.page.locator('#messages').evaluate((box) => { box.scrollTop = 0; });
      await eventually('an older page', () => alice.messages(),
        (shown) => shown.length === count || shown.length > firstPage.length, 10_000);
    }
    await eventually('the beginning of the room', () => edge.textContent(),
      (text) => text === 'This is the beginning of #archive.');
    const all = await alice.messages();
    assert.deepEqual(all, Array.from({ length: count }, (_, i) => `archive line ${i + 1}`));
  });

  test('the demo reads well on a laptop and on a phone (screenshots saved for CI)', async () => {
    await alice.openRoom('general');
    await bob.openRoom('general');
    await bob.typeWithoutSending('See you');
    await eventually('alice to see bob typing', () => alice.typingLine(), (line) => line === 'bob is typing');
    const laptop = await saveScreenshot(alice.page, 'web-demo-laptop');
    await alice.page.setViewportSize({ width: 390, height: 780 });
    // On a phone the rooms and people panels are behind buttons.
    await eventually('the rooms panel to hide', () => alice.page.locator('#sidebar').isHidden());
    await alice.page.getByRole('button', { name: 'Show rooms' }).click();
    await eventually('the rooms drawer', () => alice.page.locator('#sidebar').isVisible());
    await alice.page.getByRole('button', { name: 'Close rooms' }).click();
    await eventually('the rooms drawer to close', () => alice.page.locator('#sidebar').isVisible(),
      (visible) => !visible);
    const phone = await saveScreenshot(alice.page, 'web-demo-phone');
    assert.ok(laptop && phone);
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(bob.errors, []);
  });
});
