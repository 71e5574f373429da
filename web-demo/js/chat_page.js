// The chat screen: one ChatClient from the Parley SDK, the rooms it shows, and the user's
// actions. The SDK does every protocol job (reconnects, resume, ordering, acks, typing expiry,
// the persisted outbox); this page keeps what it was told and draws it.
import { RoomLog } from './room_log.js';
import { devToken, serverUrl, UserPrefs } from './session.js';
import {
  avatar, renderConnection, renderMembers, renderMessages, renderRoomNav, renderTyping, toast,
} from './views.js';

const historyPage = 50;
// Rooms the user has not joined send no live events; their heads are refreshed this often.
const roomListRefreshMs = 15_000;
// Scrolling this close to the top loads the previous page of history.
const loadOlderWithinPx = 150;
// Redraw this often for the reconnect countdown and "last seen 5 min ago".
const clockTickMs = 500;
const slowTickMs = 30_000;
// Wait at least this long between two attempts to replace a refused token.
const tokenRetryMs = 30_000;

function elements() {
  const byId = (id) => document.getElementById(id);
  return {
    chat: byId('chat'), myRooms: byId('my-rooms'), otherRooms: byId('other-rooms'),
    otherRoomsTitle: byId('other-rooms-title'), joinForm: byId('join-form'), joinName: byId('join-name'),
    meAvatar: byId('me-avatar'), meName: byId('me-name'), mePresence: byId('me-presence'),
    signOut: byId('sign-out'), roomName: byId('room-name'), roomSubtitle: byId('room-subtitle'),
    connection: byId('connection'), connectionText: byId('connection-text'), retryNow: byId('retry-now'),
    offlineBanner: byId('offline-banner'), messages: byId('messages'), historyEdge: byId('history-edge'),
    messageList: byId('message-list'), typing: byId('typing'), composer: byId('composer'),
    composerText: byId('composer-text'), memberList: byId('member-list'), toasts: byId('toasts'),
    scrim: byId('scrim'),
  };
}

// The first message on screen and its distance from the top, to keep it still while pages of
// older history are added above it.
function scrollAnchor(box) {
  for (const item of box.querySelectorAll('.message[data-seq]')) {
    if (item.offsetTop + item.offsetHeight > box.scrollTop) {
      return { seq: item.dataset.seq, offset: item.offsetTop - box.scrollTop };
    }
  }
  return null;
}

export class ChatPage {
  #session;
  #prefs;
  #client;
  #dom = elements();
  #rooms = new Map();        // my rooms by name, in sidebar order
  #others = [];              // RoomInfo of rooms I have not joined
  #active = '';
  #status = { state: 'idle', retryAt: 0 };
  #presence = new Map();     // user -> PresenceEntry, from joins and presence events
  #historyRequests = new Map();  // request id -> room name
  #joinRequests = new Map();     // request id -> room name
  #drawn = { room: '', version: -1 };
  #drawQueued = false;
  #intervals = [];
  #tokenRetryAt = 0;
  #onSignOut;

  /** sdk: the imported parley.mjs; session: {user, tenant}; token: a JWT for the user. */
  constructor(sdk, session, token, onSignOut) {
    this.#session = session;
    this.#prefs = new UserPrefs(session);
    this.#onSignOut = onSignOut;
    this.#client = new sdk.ChatClient(
      { url: serverUrl(), token, clientName: 'parley-web-demo/0.1', outboxKey: this.#prefs.outboxKey },
      {
        onState: (s) => this.#onState(s),
        onRoomJoined: (j) => this.#onRoomJoined(j),
        onRoomReset: (r) => this.#onRoomReset(r),
        onHistory: (page) => this.#onHistory(page),
        onMessage: (event) => this.#onMessage(event),
        onAck: (ack) => this.#onAck(ack),
        onTyping: () => this.#draw(),
        onPresence: (entry) => this.#onPresence(entry),
        onRooms: (list) => this.#onRooms(list),
        onError: (error) => this.#onError(error),
      });
    this.#bindControls();
  }

  /** Shows the chat, restores unsent messages, connects and rejoins the user's rooms. */
  start() {
    this.#dom.chat.hidden = false;
    for (const name of this.#prefs.rooms) this.#addRoom(name);
    // Messages sent before a reload: still pending, delivered once the client reconnects.
    for (const entry of this.#client.pendingSends()) {
      this.#addRoom(entry.room).addPending(entry.cid, entry.text);
    }
    this.#client.start();
    for (const name of this.#rooms.keys()) this.#join(name);
    const first = this.#rooms.keys().next().value ?? 'general';
    this.#open(this.#rooms.has(this.#prefs.openRoom) ? this.#prefs.openRoom : first);
    this.#intervals.push(
      setInterval(() => renderConnection(this.#dom, this.#status), clockTickMs),
      setInterval(() => this.#draw(), slowTickMs),
      setInterval(() => {
        if (this.#status.state === 'ready') this.#client.listRooms();
      }, roomListRefreshMs));
  }

  #me() {
    return this.#client.user() || this.#session.user;
  }

  #room(name) {
    return this.#rooms.get(name);
  }

  #addRoom(name) {
    if (!this.#rooms.has(name)) {
      this.#rooms.set(name, new RoomLog(name, this.#prefs.readUpTo[name] ?? 0));
      this.#prefs.rooms = [...this.#rooms.keys()];
    }
    return this.#rooms.get(name);
  }

  #join(name) {
    this.#joinRequests.set(this.#client.join(name), name);
  }

  #open(name) {
    this.#addRoom(name);
    this.#join(name);
    this.#others = this.#others.filter((info) => info.room !== name);
    this.#active = name;
    this.#prefs.openRoom = name;
    this.#dom.chat.classList.remove('sidebar-open', 'people-open');
    this.#dom.scrim.hidden = true;
    this.#draw();
  }

  #loadHistory(room, before) {
    room.loading = true;
    room.version += 1;
    this.#historyRequests.set(this.#client.fetchHistory(room.name, before, historyPage), room.name);
  }

  // ---- SDK callbacks ----

  #onState(status) {
    this.#status = status;
    if (status.state === 'ready') this.#client.listRooms();
    if (status.state === 'failed') this.#replaceToken(status.reason);
    this.#draw();
  }

  // Development tokens expire; a refused one is replaced once in a while, then we reconnect.
  #replaceToken(reason) {
    if (reason !== 'token_expired' && reason !== 'unauthenticated') return;
    if (performance.now() < this.#tokenRetryAt) return;
    this.#tokenRetryAt = performance.now() + tokenRetryMs;
    devToken(this.#session.user, this.#session.tenant).then(({ token }) => {
      this.#client.setToken(token);
      this.#client.start();
    }, (error) => toast(this.#dom, error.message));
  }

  #onRoomJoined(joined) {
    const room = this.#room(joined.room);
    if (room === undefined) return;
    room.head = Math.max(room.head, joined.head);
    for (const member of joined.members) {
      this.#presence.set(member.user, member);
      room.members.add(member.user);
    }
    // Later joins are rejoins after a reconnect: the SDK resumes the log, nothing to reload.
    if (!room.historyRequested) {
      room.historyRequested = true;
      this.#loadHistory(room, joined.head + 1);
    }
    this.#draw();
  }

  #onRoomReset(reset) {
    const room = this.#room(reset.room);
    if (room === undefined) return;
    room.reset(reset.head);
    this.#loadHistory(room, reset.head + 1);
    this.#draw();
  }

  #onHistory(page) {
    const room = this.#room(this.#historyRequests.get(page.request));
    this.#historyRequests.delete(page.request);
    if (room === undefined) return;
    room.loading = false;
    room.more = page.more;
    room.addEvents(page.events);
    room.version += 1;
    this.#draw();
  }

  #onMessage(event) {
    this.#room(event.room)?.addEvents([event]);
    this.#draw();
  }

  #onAck(ack) {
    this.#room(ack.room)?.acknowledge(ack, this.#me());
    this.#draw();
  }

  #onPresence(entry) {
    this.#presence.set(entry.user, entry);
    // A newcomer to one of our rooms is among its people before they say anything.
    if (entry.room !== undefined) this.#room(entry.room)?.members.add(entry.user);
    this.#draw();
  }

  #onRooms(list) {
    for (const info of list.rooms) {
      const room = this.#room(info.room);
      if (room !== undefined) room.head = Math.max(room.head, info.head);
    }
    this.#others = list.rooms.filter((info) => !this.#rooms.has(info.room))
      .sort((a, b) => a.room.localeCompare(b.room));
    this.#draw();
  }

  #onError(error) {
    const joinOf = this.#joinRequests.get(error.request);
    if (joinOf !== undefined) {
      this.#forgetRoom(joinOf);
      toast(this.#dom, `Cannot join #${joinOf}: ${error.message}`);
    } else if (error.cid) {
      this.#room(error.room)?.refuse(error.cid, error.message);
      toast(this.#dom, `Message not sent: ${error.message}`);
    } else {
      toast(this.#dom, error.message);
    }
    this.#draw();
  }

  #forgetRoom(name) {
    this.#rooms.delete(name);
    this.#prefs.rooms = [...this.#rooms.keys()];
    if (this.#active === name && this.#rooms.size > 0) this.#open(this.#rooms.keys().next().value);
  }

  // ---- user actions ----

  #bindControls() {
    const dom = this.#dom;
    dom.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#sendComposed();
    });
    dom.composerText.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#sendComposed();
      }
    });
    dom.composerText.addEventListener('input', () => {
      this.#fitComposer();
      this.#client.setTyping(this.#active, dom.composerText.value.length > 0);
    });
    dom.joinForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const name = dom.joinName.value.trim();
      if (name === '') return;
      dom.joinName.value = '';
      this.#open(name);
    });
    dom.messages.addEventListener('scroll', () => this.#maybeLoadOlder());
    dom.retryNow.addEventListener('click', () => {
      // Restarting skips the rest of the backoff wait; the outbox and rooms are kept.
      this.#client.stop();
      this.#client.start();
    });
    dom.mePresence.addEventListener('change', () => this.#client.setPresence(dom.mePresence.value));
    dom.signOut.addEventListener('click', () => this.#signOut());
    const drawer = (className, open) => {
      dom.chat.classList.toggle(className, open);
      dom.scrim.hidden = !open;
    };
    document.getElementById('open-sidebar').addEventListener('click', () => drawer('sidebar-open', true));
    document.getElementById('close-sidebar').addEventListener('click', () => drawer('sidebar-open', false));
    document.getElementById('open-people').addEventListener('click', () => drawer('people-open', true));
    document.getElementById('close-people').addEventListener('click', () => drawer('people-open', false));
    dom.scrim.addEventListener('click', () => {
      dom.chat.classList.remove('sidebar-open', 'people-open');
      dom.scrim.hidden = true;
    });
    document.addEventListener('visibilitychange', () => this.#draw());
  }

  #sendComposed() {
    const text = this.#dom.composerText.value;
    if (text.trim() === '') return;
    const { cid } = this.#client.send(this.#active, text);
    if (cid === '') {
      toast(this.#dom, 'Too many unsent messages; wait for the connection to come back.');
      return;
    }
    this.#room(this.#active).addPending(cid, text);
    this.#dom.composerText.value = '';
    this.#fitComposer();
    this.#draw();
  }

  #fitComposer() {
    const box = this.#dom.composerText;
    box.style.height = 'auto';
    box.style.height = `${box.scrollHeight + 2}px`;
  }

  #maybeLoadOlder() {
    const room = this.#room(this.#active);
    const box = this.#dom.messages;
    if (room === undefined || !room.more || room.loading || room.oldestSeq === 0) return;
    if (box.scrollTop < loadOlderWithinPx) this.#loadHistory(room, room.oldestSeq);
  }

  #signOut() {
    for (const id of this.#intervals) clearInterval(id);
    this.#client.dispose();
    this.#dom.chat.hidden = true;
    this.#onSignOut();
  }

  // ---- drawing ----

  // Batches the redraws asked for while one SDK callback burst runs.
  #draw() {
    if (this.#drawQueued) return;
    this.#drawQueued = true;
    queueMicrotask(() => {
      this.#drawQueued = false;
      this.#drawNow();
    });
  }

  #drawNow() {
    if (this.#dom.chat.hidden) return;
    const dom = this.#dom;
    const room = this.#room(this.#active);
    const me = this.#me();
    if (room !== undefined && document.visibilityState === 'visible') this.#markRead(room);
    renderRoomNav(dom, {
      rooms: [...this.#rooms.values()], others: this.#others, active: this.#active,
      onOpen: (name) => this.#open(name),
    });
    renderConnection(dom, this.#status);
    const myStatus = this.#status.state === 'ready' ? dom.mePresence.value : 'offline';
    dom.meAvatar.replaceChildren(avatar(me, myStatus));
    dom.meName.textContent = me;
    const unread = [...this.#rooms.values()].reduce((n, r) => n + (r.name === this.#active ? 0 : r.unread), 0);
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
    if (room === undefined) return;
    dom.roomName.textContent = `# ${room.name}`;
    const users = [...new Set([...room.members, me, ...this.#client.typingUsers(room.name)])];
    dom.roomSubtitle.textContent = renderMembers(dom, users, (user) => this.#presenceOf(user, me), me);
    renderTyping(dom, this.#client.typingUsers(room.name));
    if (this.#drawn.room !== room.name || this.#drawn.version !== room.version) this.#drawMessages(room, me);
  }

  #presenceOf(user, me) {
    if (user === me) {
      const status = this.#status.state === 'ready' ? this.#dom.mePresence.value : 'offline';
      return { user, status, lastSeen: 0 };
    }
    return this.#presence.get(user) ?? { user, status: 'offline', lastSeen: 0 };
  }

  #markRead(room) {
    if (room.readUpTo >= room.head) return;
    room.readUpTo = room.head;
    this.#prefs.readUpTo = { ...this.#prefs.readUpTo, [room.name]: room.head };
  }

  // Redraws the conversation, keeping the reader where they were: at the bottom if they were
  // there (new messages scroll into view), else on the same message (older pages load above).
  #drawMessages(room, me) {
    const box = this.#dom.messages;
    const switched = this.#drawn.room !== room.name;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    const anchor = switched ? null : scrollAnchor(box);
    renderMessages(this.#dom, room, me);
    this.#drawn = { room: room.name, version: room.version };
    if (switched || atBottom || anchor === null) {
      box.scrollTop = box.scrollHeight;
    } else {
      const item = box.querySelector(`.message[data-seq="${anchor.seq}"]`);
      if (item !== null) box.scrollTop = item.offsetTop - anchor.offset;
    }
    // A first page that does not fill the screen cannot be scrolled: load more right away.
    if (box.scrollHeight <= box.clientHeight + loadOlderWithinPx) this.#maybeLoadOlder();
  }
}
