// Who is signed in, and what the page remembers for them.
//
// The signed-in name lives in sessionStorage: it survives a reload of this tab, and two tabs
// can be two different people. What belongs to the user (their rooms, how far they have read,
// their unsent messages) lives in localStorage under a per-user prefix.

const sessionKey = 'parley-demo:session';

/** The signed-in {user, tenant} of this tab, or null. */
export function currentSession() {
  const saved = sessionStorage.getItem(sessionKey);
  return saved === null ? null : JSON.parse(saved);
}

export function rememberSession(session) {
  sessionStorage.setItem(sessionKey, JSON.stringify({ user: session.user, tenant: session.tenant }));
}

export function forgetSession() {
  sessionStorage.removeItem(sessionKey);
}

/** Asks the server (started with --dev) for a token; throws an Error with a readable message. */
export async function devToken(user, tenant = 'default') {
  const query = new URLSearchParams({ user, tenant });
  let reply;
  try {
    reply = await fetch(`/api/v1/dev/token?${query}`, { method: 'POST' });
  } catch {
    throw new Error('Cannot reach the server.');
  }
  if (reply.status === 404) throw new Error('This server does not hand out development tokens (start it with --dev).');
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new Error(body.message ?? `The server said ${reply.status}.`);
  return body;
}

/** The WebSocket endpoint of the server that served this page. */
export function serverUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/** Per-user settings kept across visits: rooms joined, last room, read positions. */
export class UserPrefs {
  #prefix;

  constructor(session) {
    this.#prefix = `parley-demo:${session.tenant}:${session.user}:`;
  }

  /** localStorage key for the SDK's persisted outbox. */
  get outboxKey() {
    return `${this.#prefix}outbox`;
  }

  get rooms() {
    return this.#read('rooms', ['general']);
  }

  set rooms(names) {
    this.#write('rooms', names);
  }

  get openRoom() {
    return this.#read('open', 'general');
  }

  set openRoom(name) {
    this.#write('open', name);
  }

  /** Last seq read per room. */
  get readUpTo() {
    return this.#read('read', {});
  }

  set readUpTo(positions) {
    this.#write('read', positions);
  }

  #read(name, fallback) {
    const saved = localStorage.getItem(this.#prefix + name);
    return saved === null ? fallback : JSON.parse(saved);
  }

  #write(name, value) {
    localStorage.setItem(this.#prefix + name, JSON.stringify(value));
  }
}
