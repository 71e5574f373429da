// Types of parley.mjs: the Parley client for browsers. The engine is client-sdk/core compiled to
// WebAssembly; this API mirrors the native C++ chat_client (see README.md for the differences).
// Numbers that are seqs, epochs and server timestamps are exact: the protocol keeps them < 2^53.

/** Connection state as the app sees it. */
export type ConnectionState =
  | 'idle'          // not started, or stopped by the app
  | 'connecting'    // WebSocket opening
  | 'handshaking'   // hello sent, waiting for welcome
  | 'ready'         // authenticated; rooms rejoined; outbox flushed
  | 'backing_off'   // waiting before the next attempt (see ConnectionStatus.retryAt)
  | 'failed';       // auth rejected or versions incompatible; needs setToken() + start()

/** Stable error code names (docs/PROTOCOL.md). */
export type ErrorCode =
  | 'malformed' | 'unsupported' | 'version_mismatch' | 'unauthenticated' | 'token_expired'
  | 'forbidden' | 'not_found' | 'rate_limited' | 'too_large' | 'invalid_utf8'
  | 'limit_exceeded' | 'not_joined' | 'invalid_argument' | 'internal';

/** A user's presence status. */
export type PresenceStatus = 'online' | 'away' | 'offline';

/** Client settings; only url and token are required. */
export interface ClientOptions {
  /** ws://host:port/path or wss://host/path. */
  url: string;
  /** JWT for hello; replace later with setToken(). */
  token: string;
  /** Sent in hello, shows in server logs. Default "parley-js/0.1". */
  clientName?: string;
  /** Reconnect delays: exponential with full jitter between baseMs and capMs. */
  backoff?: { baseMs?: number; capMs?: number };
  /** Open + handshake + welcome must complete within this. Default 10000. */
  connectTimeoutMs?: number;
  /** Unacknowledged sends held before send() refuses. Default 1000. */
  maxOutbox?: number;
  /**
   * localStorage key under which the outbox is kept. When set, unacknowledged sends survive a
   * page reload: they are restored at construction and sent, once, after the next connect.
   * Use one key per user, and one client per key at a time.
   */
  outboxKey?: string;
}

/** A room-log event, delivered in seq order exactly once. */
export interface RoomEvent {
  room: string;
  epoch: number;
  seq: number;
  /** 1 = message (v1 servers produce only messages). */
  kind: number;
  /** Sender user id. */
  from: string;
  /** Sender's client id (empty for server-made events). */
  cid: string;
  /** Server time, ms since the Unix epoch. */
  ts: number;
  text: string;
  /** Target seq for edits, deletes, reactions, receipts; 0 = none. */
  ref: number;
}

/** A user's presence. */
export interface PresenceEntry {
  user: string;
  status: PresenceStatus;
  /** ms since the Unix epoch; 0 = never / unknown. */
  lastSeen: number;
  /** Set when the user has just become a member of this room (their first join). */
  room?: string;
}

/** Connection state, with the next attempt's time while backing off. */
export interface ConnectionStatus {
  state: ConnectionState;
  /** When backing_off: the next attempt's time on the performance.now() clock. */
  retryAt: number;
  /** When failed: why. */
  reason?: ErrorCode;
}

/** One of this client's sends is durable. */
export interface MessageAck {
  room: string;
  cid: string;
  seq: number;
  ts: number;
}

/** Something the server refused: a request (join, history, ...) or a send. */
export interface ClientError {
  /** Id returned by the refused request; 0 for a send. */
  request: number;
  room: string;
  /** The refused send's client id (it has left the outbox); empty for requests. */
  cid: string;
  code: ErrorCode;
  /** Human-readable, not for matching. */
  message: string;
}

/** A join (or a rejoin after a reconnect) succeeded. */
export interface RoomJoined {
  room: string;
  epoch: number;
  head: number;
  /** Every member of the room with presence. */
  members: PresenceEntry[];
}

/** The room's log could not be resumed: drop local copies and reload with fetchHistory. */
export interface RoomReset {
  room: string;
  epoch: number;
  /** Live delivery continues after this seq. */
  head: number;
}

/** Answer to fetchHistory. */
export interface HistoryLoaded {
  request: number;
  room: string;
  /** Ascending seq. */
  events: RoomEvent[];
  /** Older events exist. */
  more: boolean;
}

/** Someone started or stopped typing (typing=false also when it expired). */
export interface TypingChanged {
  room: string;
  user: string;
  typing: boolean;
}

/** A room visible to the user. */
export interface RoomInfo {
  room: string;
  isPrivate: boolean;
  epoch: number;
  /** Last seq in the room's log. */
  head: number;
  /** This session has joined it. */
  joined: boolean;
}

/** Answer to listRooms. */
export interface RoomsListed {
  request: number;
  rooms: RoomInfo[];
}

/** Server parameters from the last welcome. */
export interface ServerParams {
  heartbeatMs: number;
  typingThrottleMs: number;
  typingExpiryMs: number;
  presenceGraceMs: number;
  maxFrame: number;
  maxBatch: number;
  maxText: number;
  maxRooms: number;
  historyLimit: number;
  ratePerSec: number;
  rateBurst: number;
}

/** A send not yet acknowledged. */
export interface PendingEntry {
  room: string;
  cid: string;
  text: string;
}

/**
 * App callbacks; any may be left out. They run one at a time in the order the engine produced
 * the events, may call the client's methods, and should not throw (a throw is reported as an
 * uncaught error and does not disturb the client).
 */
export interface ClientCallbacks {
  /** A room event, in seq order, exactly once. */
  onMessage?(event: RoomEvent): void;
  /** One of this client's sends is durable (also for sends restored from storage). */
  onAck?(ack: MessageAck): void;
  /** Someone started or stopped typing (or their typing expired). */
  onTyping?(change: TypingChanged): void;
  /** A user's presence changed. */
  onPresence?(entry: PresenceEntry): void;
  /** The connection state changed. */
  onState?(status: ConnectionStatus): void;
  /** A join (or a rejoin after a reconnect) succeeded. */
  onRoomJoined?(joined: RoomJoined): void;
  /** A room's log could not be resumed: drop local copies and reload with fetchHistory. */
  onRoomReset?(reset: RoomReset): void;
  /** Answer to fetchHistory. */
  onHistory?(page: HistoryLoaded): void;
  /** Answer to listRooms. */
  onRooms?(list: RoomsListed): void;
  /** A leave, createRoom, addMember or token refresh succeeded. */
  onDone?(request: number): void;
  /** The server refused a request or a send. */
  onError?(error: ClientError): void;
  /** A connection attempt failed or a connection dropped (for logs); the client retries. */
  onTransportError?(why: string): void;
}

/** A queued message: its client id now, its acknowledgement later. */
export interface PendingSend {
  /** Empty if the outbox was full. */
  cid: string;
  /** Resolves once the message is durable; rejects with SendRefusedError if it was refused. */
  acked: Promise<MessageAck>;
}

/** The server refused a send, or the outbox was full (code "limit_exceeded"). */
export class SendRefusedError extends Error {
  readonly error: ClientError;
}

/** One user's connection to a Parley server; reconnects and resumes by itself until stop(). */
export class ChatClient {
  /** Throws TypeError for a URL that is not ws:// or wss://. Does not connect before start(). */
  constructor(options: ClientOptions, callbacks?: ClientCallbacks);
  /** Connect, and keep reconnecting with backoff until stop(). */
  start(): void;
  /** Close the connection and stay idle; the outbox and joined rooms are kept. */
  stop(): void;
  /** Stop and free the engine's memory; the client is unusable afterwards. */
  dispose(): void;
  /** Token for future handshakes; refreshed in-protocol when connected. */
  setToken(token: string): void;
  /** Join a room and keep it joined across reconnects; returns the request id. */
  join(room: string): number;
  /** Leave a room; returns the request id. */
  leave(room: string): number;
  /** Queue a message for delivery (now or after the next reconnect). */
  send(room: string, text: string): PendingSend;
  /** Typing state from the UI: true on each keystroke (throttled), false when cleared. */
  setTyping(room: string, typing: boolean): void;
  /** Own presence (online or away). */
  setPresence(status: 'online' | 'away'): void;
  /** Up to `limit` events before seq `before` (0: the newest); answered by onHistory. */
  fetchHistory(room: string, before?: number, limit?: number): number;
  /** Rooms visible to the user; answered by onRooms. */
  listRooms(): number;
  /** Create a public or private room (the creator becomes a member); answered by onDone. */
  createRoom(room: string, isPrivate?: boolean): number;
  /** Add a user to a private room; answered by onDone. */
  addMember(room: string, user: string): number;
  /** Unacknowledged sends as bytes the app may store (format in docs/PROTOCOL.md). */
  exportOutbox(): Uint8Array;
  /** Restore sends from exportOutbox(), keeping their client ids; false if not an export. */
  importOutbox(bytes: Uint8Array): boolean;
  /** Unacknowledged sends, oldest first. */
  pendingSends(): PendingEntry[];
  /** Users typing in a room now (expired ones excluded). */
  typingUsers(room: string): string[];
  /** Current connection state. */
  state(): ConnectionState;
  /** User id from the last welcome; empty before the first. */
  user(): string;
  /** Server parameters from the last welcome (defaults before the first). */
  serverParams(): ServerParams;
}
