// The real parley-server for a test: random loopback port (--port 0 --port-file), --dev, a
// fresh data folder, and a web root assembled from web-demo/ plus the built SDK package, so
// the demo runs exactly the parley.mjs/parley.wasm under test. Stopped by its PID; freeze(),
// crash() and restart() hang it, kill it and bring it back on the same port and data folder,
// as a crashed server restarted by its supervisor.
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serverBin, testPages, wasmPackage, webDemo } from './environment.mjs';

const startTimeoutMs = 15_000;
const stopTimeoutMs = 10_000;

async function assembleWebRoot(dir) {
  const root = join(dir, 'web');
  await cp(webDemo, root, { recursive: true, filter: (path) => !path.includes('/vendor') });
  await mkdir(join(root, 'vendor'));
  for (const file of ['parley.mjs', 'parley.wasm']) {
    await cp(join(wasmPackage, file), join(root, 'vendor', file));
  }
  // The whole npm package too, for the pages that use the SDK directly, as an app would.
  await cp(wasmPackage, join(root, 'parley'), { recursive: true });
  await cp(testPages, join(root, 'test'), { recursive: true });
  return root;
}

async function readPort(portFile, child) {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`parley-server exited with ${child.exitCode}`);
    const text = await readFile(portFile, 'utf8').catch(() => '');
    if (/^\d+\s*$/.test(text)) return Number(text);
    await sleep(50);
  }
  throw new Error('parley-server did not write its port in time');
}

/** A running parley-server. */
export class ServerProcess {
  #child;
  #dir;
  #webRoot;
  #extraArgs;
  #log = [];

  /** Starts the server; extra flags (e.g. ['--typing-expiry-ms', '2000']) are appended. */
  static async start(extraArgs = []) {
    const server = new ServerProcess();
    server.#extraArgs = extraArgs;
    server.#dir = await mkdtemp(join(tmpdir(), 'parley-browser-'));
    server.#webRoot = await assembleWebRoot(server.#dir);
    await server.#launch(0);
    return server;
  }

  // Spawns the server on `port` (0: any free one) and waits for the port it reports.
  async #launch(port) {
    const portFile = join(this.#dir, 'port');
    await rm(portFile, { force: true });
    this.#child = spawn(serverBin, [
      '--host', '127.0.0.1', '--port', String(port), '--port-file', portFile,
      '--data', join(this.#dir, 'data'), '--dev', '--jwt-secret', 'browser-test-secret',
      '--web-root', this.#webRoot, ...this.#extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => this.#log.push(chunk));
    }
    try {
      this.port = await readPort(portFile, this.#child);
    } catch (error) {
      await this.stop();
      throw new Error(`${error.message}\n${this.log()}`);
    }
    /** http://127.0.0.1:PORT */
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    /** ws://127.0.0.1:PORT/ws */
    this.wsUrl = `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing is read or answered. */
  freeze() {
    process.kill(this.#child.pid, 'SIGSTOP');
  }

  /**
   * Kills the server at once (SIGKILL: no close handshakes, as a crash), keeping its data folder.
   * Every client sees its connection drop; what was acknowledged is on disk.
   */
  async crash() {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }

  /** Starts the server again after crash(): same port, data folder, web root and flags. */
  async restart() {
    this.#log.push('--- restarted by the test ---\n');
    await this.#launch(this.port);
  }

  /** Everything the server printed, for failure messages. */
  log() {
    return this.#log.join('');
  }

  /** SIGTERM, a bounded wait, then SIGKILL; removes the data folder. */
  async stop() {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGCONT');  // in case a test froze it and failed before crash()
      process.kill(child.pid, 'SIGTERM');
      const timer = new AbortController();
      const stopped = await Promise.race([exited.then(() => true),
        sleep(stopTimeoutMs, false, { signal: timer.signal }).catch(() => false)]);
      timer.abort();
      if (!stopped) {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    }
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** A development token, as the demo's sign-in gets it. */
  async token(user, tenant = 'default') {
    const query = new URLSearchParams({ user, tenant });
    const reply = await fetch(`${this.baseUrl}/api/v1/dev/token?${query}`, { method: 'POST' });
    if (!reply.ok) throw new Error(`dev token: HTTP ${reply.status}`);
    return (await reply.json()).token;
  }
}
