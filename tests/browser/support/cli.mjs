// The native `parley` CLI as a script runs it: lines on stdin (not a TTY), no --token (it asks
// the --dev server for one), exits once every line is acknowledged and the history is shown.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliBin } from './environment.mjs';

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
