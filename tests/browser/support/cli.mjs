// The native `parley` CLI with stdin a pipe (not a TTY): each line is sent as a message, no
// --token (it asks the --dev server for one). runCli() is a script that exits once every line
// is acknowledged and the history is shown; CliSession stays connected while the pipe is open.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliBin } from './environment.mjs';
import { eventually } from './wait.mjs';

const exitTimeoutMs = 30_000;

/** Runs `parley --url ... --user ... --room ...` with `lines` on stdin; resolves {code, output}. */
export async function runCli(server, { user, room, lines = [] }) {
  const child = spawn(cliBin, ['--url', server.wsUrl, '--user', user, '--room', room],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => { output += chunk; });
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.stdin.end(lines.map((line) => `${line}\n`).join(''));
  // The timer is cancelled once the CLI exits, so it does not hold the test process open.
  const timer = new AbortController();
  const code = await Promise.race([exited,
    sleep(exitTimeoutMs, null, { signal: timer.signal }).catch(() => null)]);
  timer.abort();
  if (code === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
    throw new Error(`parley CLI did not exit within ${exitTimeoutMs} ms; it printed:\n${output}`);
  }
  return { code, output };
}

/**
 * A `parley` CLI session that stays connected: its stdin is a pipe the test writes lines into
 * (each one is sent as a message), and everything it prints is collected. It lives at most
 * `lifetimeMs`; stop() ends it by its PID (SIGTERM, which the CLI treats as "quit now").
 */
export class CliSession {
  #child;
  #exited;
  #lifetime;
  output = '';

  constructor(server, { user, room, lifetimeMs = 120_000 }) {
    this.user = user;
    this.#child = spawn(cliBin, ['--url', server.wsUrl, '--user', user, '--room', room],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => { this.output += chunk; });
    }
    // Writing to a CLI that has died fails the test through what it did not print, not here.
    this.#child.stdin.on('error', () => {});
    this.#exited = new Promise((resolve) =>
      this.#child.once('exit', (code, signal) => resolve(code ?? signal)));
    // A forgotten session must not outlive the test run.
    this.#lifetime = setTimeout(() => this.#kill('SIGKILL'), lifetimeMs);
    this.#lifetime.unref();
  }

  /** The lines printed so far. */
  lines() {
    return this.output.split('\n');
  }

  /** Chat lines printed so far without their time stamp: "[12:03:04] alice: hi" is "alice: hi". */
  chat() {
    return this.lines().map((line) => /^\[\d\d:\d\d:\d\d\] (.*)$/.exec(line)?.[1]).filter(Boolean);
  }

  /** Waits until the CLI prints the chat line `line` ("alice: hi"). */
  waitForChat(line, timeoutMs = 20_000) {
    return eventually(`${this.user}'s CLI to print "${line}"`, () => this.chat().includes(line),
      Boolean, timeoutMs).catch((error) => { throw new Error(`${error.message}\nit printed:\n${this.output}`); });
  }

  /** Writes one line to the CLI's stdin, as if typed into a script's pipe. */
  say(line) {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Waits until a printed line matches `pattern`; returns that line. */
  waitForLine(pattern, timeoutMs = 20_000) {
    return eventually(`${this.user}'s CLI to print ${pattern}`,
      () => this.lines().find((line) => pattern.test(line)), Boolean, timeoutMs)
      .catch((error) => { throw new Error(`${error.message}\nit printed:\n${this.output}`); });
  }

  /** Still connected to its terminal: the process has not exited. */
  running() {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGTERM by PID and a bounded wait (then SIGKILL); resolves the exit code or signal. */
  async stop() {
    clearTimeout(this.#lifetime);
    if (this.running()) {
      this.#kill('SIGTERM');
      const timer = new AbortController();
      const code = await Promise.race([this.#exited,
        sleep(exitTimeoutMs, null, { signal: timer.signal }).catch(() => null)]);
      timer.abort();
      if (code === null) this.#kill('SIGKILL');
    }
    return this.#exited;
  }

  #kill(signal) {
    if (this.running()) process.kill(this.#child.pid, signal);
  }
}
