// Drawing the chat page from its state. Plain DOM, no framework: each function rebuilds one
// region from the data it is given.
import { avatarColor, clockTime, dayLabel, lastSeen, sameDay, typingLine } from './format.js';

// Consecutive messages from one person within this window share one header.
const groupWindowMs = 5 * 60_000;

/** Creates an element: h('div', {class: 'x', onclick: fn}, child, 'text', ...). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children.filter((c) => c !== null && c !== undefined));
  return element;
}

/** A round avatar with the user's initial, and a presence dot when a status is given. */
export function avatar(user, status = null, small = false) {
  const face = h('span', { class: small ? 'avatar avatar-small' : 'avatar', 'aria-hidden': 'true' },
    user.slice(0, 1));
  face.style.background = avatarColor(user);
  if (status !== null) face.append(h('span', { class: `presence-dot ${status}` }));
  return face;
}

/** The two room lists of the sidebar. */
export function renderRoomNav(dom, { rooms, others, active, onOpen }) {
  dom.myRooms.replaceChildren(...rooms.map((room) => {
    const unread = room.name === active ? 0 : room.unread;
    return h('li', {},
      h('button', {
        class: `room-link${room.name === active ? ' active' : ''}${unread > 0 ? ' unread' : ''}`,
        'aria-current': room.name === active ? 'page' : null,
        onclick: () => onOpen(room.name),
      },
      h('span', { class: 'room-link-hash' }, '#'),
      h('span', { class: 'room-link-name' }, room.name),
      unread > 0 ? h('span', { class: 'badge', 'aria-label': `${unread} unread` },
        unread > 99 ? '99+' : String(unread)) : null));
  }));
  dom.otherRoomsTitle.hidden = others.length === 0;
  dom.otherRooms.replaceChildren(...others.map((info) => h('li', {},
    h('button', { class: 'room-link', onclick: () => onOpen(info.room), title: `Join #${info.room}` },
      h('span', { class: 'room-link-hash' }, '#'),
      h('span', { class: 'room-link-name' }, info.room),
      info.isPrivate ? h('span', { class: 'room-link-private' }, 'private') : null,
      h('span', { class: 'room-link-count' }, info.head === 1 ? '1 message' : `${info.head} messages`)))));
}

function ownStatus(entry) {
  if (entry.failed) return h('span', { class: 'message-status' }, `Not sent: ${entry.failed}`);
  if (entry.seq === undefined) return h('span', { class: 'message-status' }, 'Sending…');
  return h('span', { class: 'message-status', title: `Delivered as #${entry.seq}` }, '✓ Sent');
}

function messageItem(entry, me, showHeader) {
  const mine = entry.from === me;
  const pending = entry.seq === undefined;
  const classes = ['message', showHeader ? 'first' : '', pending ? 'pending' : '', entry.failed ? 'failed' : ''];
  const time = entry.ts ? h('time', { class: 'message-time', datetime: new Date(entry.ts).toISOString() },
    clockTime(entry.ts)) : null;
  const meta = showHeader
    ? h('div', { class: 'message-meta' }, h('span', { class: 'message-author' }, entry.from), time,
      mine ? ownStatus(entry) : null)
    : null;
  const text = h('div', { class: 'message-text' }, h('span', { class: 'message-words' }, entry.text));
  if (!showHeader && mine) text.append(ownStatus(entry));
  return h('li', { class: classes.filter(Boolean).join(' '), 'data-seq': entry.seq ?? null },
    showHeader ? avatar(entry.from) : h('span', { class: 'message-gutter' }),
    h('div', { class: 'message-body' }, meta, text));
}

/** The conversation: day separators, messages grouped by sender, then pending sends. */
export function renderMessages(dom, room, me) {
  const { events, pending } = room.entries();
  const items = [];
  let previous = null;
  for (const event of events) {
    if (previous === null || !sameDay(previous.ts, event.ts)) {
      items.push(h('li', { class: 'day', role: 'separator' }, dayLabel(event.ts)));
      previous = null;
    }
    const grouped = previous !== null && previous.from === event.from &&
      event.ts - previous.ts < groupWindowMs;
    items.push(messageItem(event, me, !grouped));
    previous = event;
  }
  for (const entry of pending) {
    items.push(messageItem({ ...entry, from: me }, me, previous === null || previous.from !== me));
    previous = { from: me, ts: Date.now() };
  }
  dom.messageList.replaceChildren(...items);
  if (!room.historyRequested) dom.historyEdge.textContent = 'The conversation loads once connected.';
  else if (room.loading) dom.historyEdge.textContent = 'Loading messages…';
  else if (!room.more && events.length === 0 && pending.length === 0) {
    dom.historyEdge.textContent = `No messages in #${room.name} yet. Say hello!`;
  } else if (!room.more) dom.historyEdge.textContent = `This is the beginning of #${room.name}.`;
  else dom.historyEdge.textContent = '';
}

const statusRank = { online: 0, away: 1, offline: 2 };

/** People in the room: online first, then away, then offline with when they were last seen. */
export function renderMembers(dom, users, presenceOf, me) {
  const entries = users.map(presenceOf).sort((a, b) =>
    statusRank[a.status] - statusRank[b.status] || a.user.localeCompare(b.user));
  dom.memberList.replaceChildren(...entries.map((p) => h('li', { class: `member ${p.status}` },
    avatar(p.user, p.status, true),
    h('div', {},
      h('div', { class: 'member-name' }, p.user === me ? `${p.user} (you)` : p.user),
      h('div', { class: 'member-seen muted' },
        p.status === 'offline' ? lastSeen(p.lastSeen) : p.status === 'away' ? 'away' : 'online')))));
  const online = entries.filter((p) => p.status !== 'offline').length;
  return `${entries.length} ${entries.length === 1 ? 'member' : 'members'}, ${online} online`;
}

/** "bob is typing…" under the conversation. */
export function renderTyping(dom, users) {
  const line = typingLine(users);
  dom.typing.replaceChildren(line ? h('span', { class: 'typing-dots' }, line) : '');
}

const stateText = {
  idle: 'Disconnected',
  connecting: 'Connecting',
  handshaking: 'Connecting',
  ready: 'Connected',
};

/** The connection pill: state, and the countdown to the next attempt while backing off. */
export function renderConnection(dom, status) {
  const backingOff = status.state === 'backing_off';
  dom.connection.className = `connection ${status.state === 'handshaking' ? 'connecting' : status.state}`;
  if (backingOff) {
    const seconds = Math.max(0, Math.ceil((status.retryAt - performance.now()) / 1000));
    dom.connectionText.textContent = seconds > 0 ? `Reconnecting in ${seconds} s` : 'Reconnecting…';
  } else if (status.state === 'failed') {
    dom.connectionText.textContent = `Not connected (${status.reason ?? 'refused'})`;
  } else {
    dom.connectionText.textContent = stateText[status.state];
  }
  dom.retryNow.hidden = !backingOff;
  dom.offlineBanner.hidden = !backingOff;
}

/** A short notice at the bottom of the screen. */
export function toast(dom, text) {
  const note = h('div', { class: 'toast', role: 'alert' }, text);
  dom.toasts.append(note);
  setTimeout(() => note.remove(), 5000);
}
