// One room as this page shows it: the events it has loaded (history pages and live events,
// merged by seq), the user's own messages still waiting for their ack, and who is in it.
// Ordering, gaps and duplicates are the SDK's business; this only keeps what it was given.

export class RoomLog {
  /** Room id. */
  name;
  /** Last seq known to exist (from joins, room lists and live events). */
  head = 0;
  /** Last seq the user has seen, kept across visits. */
  readUpTo = 0;
  /** Older history exists before the oldest loaded event. */
  more = true;
  /** A history page is on its way. */
  loading = false;
  /** The first history page was asked for (after the first join on this page). */
  historyRequested = false;
  /** Users known to be in the room: members from the join, plus anyone who speaks or types. */
  members = new Set();
  /** Bumped whenever the message list changes, so the view redraws only then. */
  version = 0;

  #events = new Map();   // seq -> RoomEvent
  #pending = new Map();  // cid -> {cid, text, failed}

  constructor(name, readUpTo = 0) {
    this.name = name;
    this.readUpTo = readUpTo;
  }

  /** Messages the user has not seen yet. */
  get unread() {
    return Math.max(0, this.head - this.readUpTo);
  }

  /** Seq of the oldest loaded event, or 0 when none is loaded. */
  get oldestSeq() {
    let oldest = 0;
    for (const seq of this.#events.keys()) if (oldest === 0 || seq < oldest) oldest = seq;
    return oldest;
  }

  /** Adds delivered or historical events; a user's own event replaces its pending copy. */
  addEvents(events) {
    for (const event of events) {
      this.#events.set(event.seq, event);
      this.#pending.delete(event.cid);
      this.members.add(event.from);
      this.head = Math.max(this.head, event.seq);
    }
    if (events.length > 0) this.version += 1;
  }

  /** A message the user sent, shown as pending until its ack. */
  addPending(cid, text) {
    this.#pending.set(cid, { cid, text, failed: '' });
    this.version += 1;
  }

  /** The user's message is durable: it takes its place in the log at its seq. */
  acknowledge(ack, user) {
    const pending = this.#pending.get(ack.cid);
    if (pending === undefined) return;
    this.addEvents([{ room: this.name, seq: ack.seq, ts: ack.ts, from: user, cid: ack.cid, text: pending.text }]);
  }

  /** The server refused the user's message; it stays on screen, marked. */
  refuse(cid, why) {
    const pending = this.#pending.get(cid);
    if (pending === undefined) return;
    pending.failed = why;
    this.version += 1;
  }

  /** The log could not be resumed: forget what was loaded; history is fetched again. */
  reset(head) {
    this.#events.clear();
    this.head = head;
    this.more = true;
    this.version += 1;
  }

  /** Loaded events in seq order, then the user's pending messages in the order sent. */
  entries() {
    const events = [...this.#events.values()].sort((a, b) => a.seq - b.seq);
    return { events, pending: [...this.#pending.values()] };
  }
}
