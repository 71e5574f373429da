// How times, names and avatars look on the page.

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayAndMonth = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const minute = 60_000;
const day = 24 * 60 * minute;

function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** "14:03". */
export function clockTime(ms) {
  return clock.format(ms);
}

/** "Today", "Yesterday" or "Mon 3 Nov": the label of a day separator. */
export function dayLabel(ms) {
  const today = startOfDay(Date.now());
  const that = startOfDay(ms);
  if (that === today) return 'Today';
  if (that === today - day) return 'Yesterday';
  return dayAndMonth.format(ms);
}

/** True if two server timestamps fall on the same local day. */
export function sameDay(a, b) {
  return startOfDay(a) === startOfDay(b);
}

/** "last seen just now", "... 5 min ago", "... at 14:03", "... yesterday at 9:10", "... Mon 3 Nov". */
export function lastSeen(ms) {
  if (!ms) return 'offline';
  const ago = Date.now() - ms;
  if (ago < minute) return 'last seen just now';
  if (ago < 60 * minute) return `last seen ${Math.floor(ago / minute)} min ago`;
  const label = dayLabel(ms);
  if (label === 'Today') return `last seen at ${clockTime(ms)}`;
  if (label === 'Yesterday') return `last seen yesterday at ${clockTime(ms)}`;
  return `last seen ${label}`;
}

/** A stable colour per user, so a face is recognisable across rooms. */
export function avatarColor(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 48%)`;
}

/** "bob is typing", "bob and carol are typing", "3 people are typing". */
export function typingLine(users) {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing`;
  return `${users.length} people are typing`;
}
