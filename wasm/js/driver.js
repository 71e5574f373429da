// The browser driver of the Parley client engine, and the public JS API (ChatClient).
//
// Appended to Emscripten's output (--extern-post-js), so that parley.mjs is one ES module:
// `createParleyEngine`, defined above this text, instantiates parley.wasm, whose embind class
// `Engine` is client-sdk/core's engine (wasm/src/engine_bindings.cpp).
//
// This file only moves bytes and time, as engine.hpp's driver loop says: it owns the browser
// WebSocket, one setTimeout armed at the engine's next deadline, crypto.getRandomValues for
// the engine's seed, and (optionally) localStorage for the outbox. Every protocol decision -
// handshake, resume, gap fill, acks, retries, typing throttle and expiry, heartbeats, backoff -
// is the engine's. The API mirrors the native chat_client (client-sdk/native/.../client.hpp);
// README.md lists where it differs.

const parleyEngine = await createParleyEngine();

// The engine's clock: performance.now() is monotonic, like the native driver's steady_clock.
const now = () => Math.floor(performance.now());

// Close codes a page may pass to WebSocket.close(); anything else throws there.
const closableCode = (code) => code === 1000 || (code >= 3000 && code <= 4999);

function randomSeed() {
  const [seedHigh, seedLow] = crypto.getRandomValues(new Uint32Array(2));
  return { seedHigh, seedLow };
}

// localStorage holds strings: each outbox byte becomes one UTF-16 code unit (0..255).
function bytesToStored(bytes) {
  let stored = '';
  for (const b of bytes) stored += String.fromCharCode(b);
  return stored;
}

function storedToBytes(stored) {
  return Uint8Array.from(stored, (c) => c.charCodeAt(0));
}

// An app callback that throws must not break the driver: report it as an uncaught error.
function notify(callback, ...args) {
  if (!callback) return;
  try {
    callback(...args);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** The server refused a send, or the outbox was full (code "limit_exceeded"). */
export class SendRefusedError extends Error {
  constructor(error) {
    super(`send refused: ${error.message}`);
    this.name = 'SendRefusedError';
    this.error = error;
  }
}

/** One user's connection to a Parley server; reconnects and resumes by itself until stop(). */
export class ChatClient {
  #url;
  #callbacks;
  #engine;
  #outboxKey;
  #socket = null;     // the open or opening WebSocket, if any
  #timer = null;
  #armedDeadline = null;
  #pumping = false;
  #outboxChanged = false;
  #ackWaiters = new Map();  // cid -> {resolve, reject}

  constructor(options, callbacks = {}) {
    const url = new URL(options.url);
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new TypeError(`not a ws:// or wss:// URL: ${options.url}`);
    }
    this.#url = url.href;
    this.#callbacks = callbacks;
    this.#outboxKey = options.outboxKey ?? null;
    this.#engine = new parleyEngine.Engine({
      token: options.token ?? '',
      clientName: options.clientName ?? 'parley-js/0.1',
      backoffBaseMs: options.backoff?.baseMs,
      backoffCapMs: options.backoff?.capMs,
      connectTimeoutMs: options.connectTimeoutMs,
      maxOutbox: options.maxOutbox,
      ...randomSeed(),
    });
    if (this.#outboxKey !== null) this.#restoreOutbox();
  }

  /** Connect, and keep reconnecting with backoff until stop(). */
  start() {
    this.#run((e, t) => e.start(t));
  }

  /** Close the connection and stay idle; the outbox and joined rooms are kept. */
  stop() {
    this.#run((e, t) => e.stop(t));
  }

  /** Stop and free the engine; the client is unusable afterwards. */
  dispose() {
    if (this.#engine === null) return;
    this.stop();
    clearTimeout(this.#timer);
    this.#engine.delete();
    this.#engine = null;
    for (const waiter of this.#ackWaiters.values()) waiter.reject(new Error('ChatClient was disposed'));
    this.#ackWaiters.clear();
  }

  /** Token for future handshakes; refreshed in-protocol when connected. */
  setToken(token) {
    this.#run((e, t) => e.setToken(token, t));
  }

  /** Join a room and keep it joined across reconnects; returns the request id. */
  join(room) {
    return this.#run((e, t) => e.join(room, t));
  }

  /** Leave a room; returns the request id. */
  leave(room) {
    return this.#run((e, t) => e.leave(room, t));
  }

  /**
   * Queue a message for delivery (now or after the next reconnect). Returns its client id and
   * a promise of its ack; the promise rejects with SendRefusedError if it is refused.
   */
  send(room, text) {
    let waiter;
    const acked = new Promise((resolve, reject) => {
      waiter = { resolve, reject };
    });
    // Refusals also reach onError, so an app that ignores the promise gets no unhandled
    // rejection; an app that awaits it still sees the error.
    acked.catch(() => {});
    const cid = this.#run((e, t) => {
      const id = e.sendMessage(room, text, t);
      // Registered before the pump: a refusal can be emitted by sendMessage itself.
      if (id === '') {
        waiter.reject(new SendRefusedError({
          request: 0, room, cid: '', code: 'limit_exceeded', message: 'outbox full',
        }));
      } else {
        this.#ackWaiters.set(id, waiter);
        this.#outboxChanged = true;
      }
      return id;
    });
    return { cid, acked };
  }

  /** Typing state from the UI: true on each keystroke (throttled by the engine), false when cleared. */
  setTyping(room, typing) {
    this.#run((e, t) => e.setTyping(room, typing, t));
  }

  /** Own presence: "online" or "away". */
  setPresence(status) {
    this.#run((e, t) => e.setPresence(status, t));
  }

  /** Up to `limit` events before seq `before` (0: the newest); answered by onHistory. */
  fetchHistory(room, before = 0, limit = 50) {
    return this.#run((e, t) => e.fetchHistory(room, before, limit, t));
  }

  /** Rooms visible to the user; answered by onRooms. */
  listRooms() {
    return this.#run((e, t) => e.listRooms(t));
  }

  /** Create a public or private room (the creator becomes a member); answered by onDone. */
  createRoom(room, isPrivate = false) {
    return this.#run((e, t) => e.createRoom(room, isPrivate, t));
  }

  /** Add a user to a private room; answered by onDone. */
  addMember(room, user) {
    return this.#run((e, t) => e.addMember(room, user, t));
  }

  /** Unacknowledged sends as bytes the app may store (format in docs/PROTOCOL.md). */
  exportOutbox() {
    return this.#engine.exportOutbox();
  }

  /** Restore sends from exportOutbox(), keeping their client ids; false if not an export. */
  importOutbox(bytes) {
    return this.#run((e, t) => {
      const imported = e.importOutbox(bytes, t);
      if (imported) this.#outboxChanged = true;
      return imported;
    });
  }

  /** Unacknowledged sends, oldest first: [{room, cid, text}]. */
  pendingSends() {
    return this.#engine.pendingSends();
  }

  /** Users typing in a room now (expired ones excluded). */
  typingUsers(room) {
    return this.#engine.typingUsers(room);
  }

  /** Current connection state. */
  state() {
    return this.#engine.state();
  }

  /** User id from the last welcome; empty before the first. */
  user() {
    return this.#engine.user();
  }

  /** Server parameters from the last welcome (defaults before the first). */
  serverParams() {
    return this.#engine.params();
  }

  // Runs a command on the engine with the current time, then lets its outputs flow. Called
  // from a callback it only queues: the pump already in progress drains the outputs.
  #run(command) {
    if (this.#engine === null) throw new Error('ChatClient was disposed');
    const result = command(this.#engine, now());
    this.#pump();
    return result;
  }

  // engine.hpp's loop: drain transport operations and events until both are dry (callbacks
  // may issue commands that queue more), then arm the one timer.
  #pump() {
    if (this.#pumping || this.#engine === null) return;
    this.#pumping = true;
    try {
      let drained = false;
      while (!drained) {
        drained = true;
        for (let op = this.#engine.pollTransport(); op !== null; op = this.#engine.pollTransport()) {
          this.#perform(op);
          drained = false;
        }
        for (let ev = this.#engine.pollEvent(); ev !== null; ev = this.#engine.pollEvent()) {
          this.#deliver(ev);
          drained = false;
        }
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#outboxChanged) this.#saveOutbox();
    this.#rearmTimer();
  }

  #perform(op) {
    if (op.op === 'send') {
      if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(op.bytes);
    } else if (op.op === 'close') {
      this.#closeSocket(op.code);
    } else {
      this.#openSocket();
    }
  }

  #openSocket() {
    this.#closeSocket(1000);
    let socket;
    try {
      socket = new WebSocket(this.#url);
    } catch (error) {
      this.#lost(`cannot open ${this.#url}: ${error.message}`);
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    // Events of a socket the engine has given up on (or replaced) are not reported.
    socket.onopen = () => {
      if (this.#socket === socket) this.#input((e, t) => e.handleOpen(t));
    };
    socket.onmessage = (message) => {
      // Text frames go to the engine too: what is legal on the wire is its decision.
      if (this.#socket === socket) this.#input((e, t) => e.handleBytes(message.data, t));
    };
    socket.onclose = (close) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#lost(`connection closed (${close.code}${close.reason ? ` ${close.reason}` : ''})`);
    };
  }

  #closeSocket(code) {
    const socket = this.#socket;
    if (socket === null) return;
    this.#socket = null;
    socket.close(closableCode(code) ? code : 1000);
  }

  #lost(why) {
    notify(this.#callbacks.onTransportError, why);
    this.#input((e, t) => e.handleClose(t));
  }

  #input(feed) {
    if (this.#engine === null) return;
    feed(this.#engine, now());
    this.#pump();
  }

  #rearmTimer() {
    const deadline = this.#engine === null ? null : this.#engine.pollTimeout();
    if (deadline === this.#armedDeadline) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedDeadline = deadline;
    if (deadline === null) return;
    // An early handleTimeout is harmless: the engine re-announces the same deadline.
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#armedDeadline = null;
      this.#input((e, t) => e.handleTimeout(t));
    }, Math.max(0, deadline - now()));
  }

  #restoreOutbox() {
    const stored = localStorage.getItem(this.#outboxKey);
    if (stored !== null) this.#engine.importOutbox(storedToBytes(stored), now());
  }

  #saveOutbox() {
    this.#outboxChanged = false;
    if (this.#outboxKey === null) return;
    try {
      if (this.#engine.pendingSends().length === 0) {
        localStorage.removeItem(this.#outboxKey);
      } else {
        localStorage.setItem(this.#outboxKey, bytesToStored(this.#engine.exportOutbox()));
      }
    } catch (error) {
      notify(this.#callbacks.onTransportError, `outbox not saved: ${error.message}`);
    }
  }

  // ---- engine events to app callbacks ----
  #deliver(ev) {
    const cb = this.#callbacks;
    switch (ev.type) {
      case 'state_changed':
        notify(cb.onState, { state: ev.state, retryAt: ev.retryAt, reason: ev.reason });
        break;
      case 'room_joined':
        notify(cb.onRoomJoined, ev);
        break;
      case 'room_reset':
        notify(cb.onRoomReset, ev);
        break;
      case 'message_received':
        notify(cb.onMessage, ev.event);
        break;
      case 'message_acked': {
        this.#outboxChanged = true;
        const ack = { room: ev.room, cid: ev.cid, seq: ev.seq, ts: ev.ts };
        this.#ackWaiters.get(ev.cid)?.resolve(ack);
        this.#ackWaiters.delete(ev.cid);
        notify(cb.onAck, ack);
        break;
      }
      case 'message_failed': {
        this.#outboxChanged = true;
        const error = { request: 0, room: ev.room, cid: ev.cid, code: ev.code, message: ev.message };
        this.#ackWaiters.get(ev.cid)?.reject(new SendRefusedError(error));
        this.#ackWaiters.delete(ev.cid);
        notify(cb.onError, error);
        break;
      }
      case 'history_loaded':
        notify(cb.onHistory, ev);
        break;
      case 'typing_changed':
        notify(cb.onTyping, ev);
        break;
      case 'presence_changed':
        notify(cb.onPresence, ev.entry);
        break;
      case 'request_failed':
        notify(cb.onError, { request: ev.request, room: ev.room, cid: '', code: ev.code, message: ev.message });
        break;
      case 'request_done':
        notify(cb.onDone, ev.request);
        break;
      case 'rooms_listed':
        notify(cb.onRooms, ev);
        break;
    }
  }
}
