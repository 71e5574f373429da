// The server crashes and comes back, as people see it in the web demo: the connection pill
// counts down to the next attempt ("Reconnecting in 3 s", "2 s", "1 s"), the page reconnects by
// itself on the SDK's backoff timer (nobody clicks "Retry now"), and every message sent while
// the server hung before dying, or while it was down, is delivered exactly once, in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DemoUser, occurrences } from './support/browser.mjs';
import { ServerProcess } from './support/server.mjs';

// The default heartbeat (seconds) keeps a frozen server from being declared dead before it dies.
const serverArgs = ['--presence-grace-ms', '1000'];
// The backoff is capped at 30 s: a page that waits for its own timer reconnects within that
// of the server being back, plus a handshake.
const selfReconnectMs = 45_000;

describe('web demo: the server crashes and restarts', () => {
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

  test('the pages count down, reconnect by themselves, and deliver every message once', async (t) => {
    await alice.send('Before the crash');
    await bob.waitForMessages(['Before the crash']);

    // The server hangs, then dies: what alice sends meanwhile goes out on a connection that
    // never answers, so it is never acknowledged and must be sent again after the restart.
    server.freeze();
    const inFlight = Array.from({ length: 3 }, (_, i) => `In flight when the server died ${i + 1}`);
    for (const line of inFlight) {
      await alice.send(line);
      await alice.waitForStatus(line, 'Sending…');
    }
    assert.equal(await alice.connection(), 'Connected');
    await server.crash();
    await alice.waitForConnection('Reconnecting');
    await bob.waitForConnection('Reconnecting');

    const offline = Array.from({ length: 3 }, (_, i) => `While the server is down ${i + 1}`);
    for (const line of offline) {
      await alice.send(line);
      await alice.waitForStatus(line, 'Sending…');
    }

    // Failed attempts back off longer and longer; once the wait is 3 s or more, alice watches
    // it count down second by second, and the server comes back meanwhile (it starts in well
    // under a second), so the attempt at the end of the countdown can succeed.
    let restarted;
    const { shown, then } = await alice.watchCountdown({
      from: 3, onCounting: () => { restarted = server.restart(); },
    });
    await restarted;
    const numbers = shown.map((s) => s.seconds);
    t.diagnostic(`alice saw ${numbers.map((n) => `"Reconnecting in ${n} s"`).join(', ')}, then "${then}"`);
    assert.deepEqual(numbers, Array.from({ length: numbers[0] }, (_, i) => numbers[0] - i),
      `the countdown alice saw: ${JSON.stringify(shown)}, then "${then}"`);
    assert.match(then, /^(Reconnecting…|Connecting|Connected)$/);
    // Each number after the first stays a second (the first shows for what is left of it). The
    // page redraws every 500 ms and the test looks every 100 ms, so each first sighting is late
    // by up to ~0.6 s, more on a loaded machine.
    const elapsed = shown.at(-1).at - shown[1].at;
    const expectedMs = (numbers[1] - 1) * 1000;
    assert.ok(elapsed >= expectedMs - 700 && elapsed <= expectedMs + 2000,
      `${numbers[1]} s to 1 s took ${elapsed} ms: ${JSON.stringify(shown)}`);

    // No click anywhere: each page's own backoff timer brings it back.
    await alice.waitForConnection('Connected', selfReconnectMs);
    await bob.waitForConnection('Connected', selfReconnectMs);

    const sentMeanwhile = [...inFlight, ...offline];
    for (const line of sentMeanwhile) await alice.waitForStatus(line, '✓ Sent');
    await alice.send('After the restart');
    const conversation = ['Before the crash', ...sentMeanwhile, 'After the restart'];
    const bobSees = await bob.waitForMessages(['After the restart', ...sentMeanwhile]);
    assert.deepEqual(bobSees, conversation);
    await alice.waitForStatus('After the restart', '✓ Sent');
    assert.deepEqual(await alice.messages(), conversation);
    for (const line of conversation) {
      assert.equal(occurrences(bobSees, line), 1, line);
    }

    // The log on disk survived the crash: a reload reads the same history from the server.
    await bob.reload();
    await bob.waitForConnection('Connected');
    assert.deepEqual(await bob.waitForMessages(conversation), conversation);
    assert.deepEqual(alice.errors, []);
    assert.deepEqual(bob.errors, []);
  });
});
