// Paths the browser tests need, from the environment (tests/browser/CMakeLists.txt sets them).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (see tests/browser/README.md)`);
  if (!existsSync(value)) throw new Error(`${name}=${value} does not exist`);
  return value;
}

/** parley-server binary. */
export const serverBin = required('PARLEY_SERVER_BIN');
/** parley CLI binary. */
export const cliBin = required('PARLEY_CLI_BIN');
/** Built npm package folder holding parley.mjs and parley.wasm (the wasm preset's output). */
export const wasmPackage = required('PARLEY_WASM_PKG');
/** The web demo's sources. */
export const webDemo = process.env.PARLEY_WEB_DEMO ?? join(repo, 'web-demo');
/** Test pages of this suite. */
export const testPages = join(here, '..', 'pages');
/** Where screenshots are saved for CI (a folder under the build tree). */
export const artifacts = process.env.PARLEY_ARTIFACTS_DIR ?? join(repo, 'build', 'browser-artifacts');
/** README.md: its "Use in the browser" example is run as written. */
export const readme = join(repo, 'README.md');
/** wasm/README.md (the npm package's README): must show the same example. */
export const wasmReadme = join(repo, 'wasm', 'README.md');
/** Debian's Chromium. */
export const chromiumPath = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
