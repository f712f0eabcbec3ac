// The composer's fields and the message definition they make (README "The message language"), both
// ways: a definition built from what is typed, and a stored version put back into the fields.

import { duration, el, option } from './message-format.js';

/**
 * The channels (`CHANNELS` in pipeline/core/message-schema.ts; a test holds the two equal, as this
 * page is served as it is and cannot import it).
 */
export const CHANNELS = [
  'chat',
  'post',
  'email',
  'push',
  'sms',
  'banner',
  'carousel',
  'tour',
  'survey',
  'webhook',
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_NAMES = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

/** A field's path in a definition → the suffix of its control's id (`f-…`) and error's (`e-…`). */
export const FIELD_IDS = {
  id: 'id',
  name: 'name',
  channel: 'channel',
  'trigger.event': 'event',
  'frequency.min_interval': 'min-interval',
  'frequency.max_sends': 'max-sends',
  global_cap_exempt: 'transactional',
  'schedule.days': 'days',
  'schedule.from': 'from',
  'schedule.to': 'to',
  'schedule.timezone': 'timezone',
  'schedule.fallback_timezone': 'fallback-timezone',
  'schedule.outside': 'outside',
  'schedule.defer_max': 'defer-max',
  'template.subject': 'subject',
  'template.body': 'body',
};

const $ = (selector) => document.querySelector(selector);
const value = (name) => $(`#f-${name}`).value;

/** The selects and lists the fields offer, filled once. */
export function setUpFields() {
  $('#f-channel').replaceChildren(...CHANNELS.map((c) => option(c, c)));
  $('#f-days').replaceChildren(
    ...DAYS.map((day) => {
      const box = el('label', undefined, 'check day');
      const input = el('input');
      input.type = 'checkbox';
      input.value = day;
      input.checked = true;
      box.append(input, el('span', DAY_NAMES[day]));
      return box;
    }),
  );
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  $('#timezones').replaceChildren(
    option("each user's own zone", 'user'),
    option('UTC', 'UTC'),
    ...zones.map((zone) => option(zone, zone)),
  );
  for (const [path, id] of Object.entries(FIELD_IDS)) {
    const control = $(`#f-${id}`);
    const described = [control.getAttribute('aria-describedby'), `e-${id}`].filter(Boolean).join(' ');
    control.setAttribute('aria-describedby', described);
    control.dataset.path = path;
  }
  $('#f-event').setAttribute('aria-describedby', 'event-facts e-event');
}

/** Shows the schedule's own fields only where they apply (a zone for users without one, how long to hold). */
export function showScheduleParts() {
  $('#schedule-fields').hidden = !$('#f-scheduled').checked;
  $('#fallback-field').hidden = value('timezone').trim() !== 'user';
  $('#defer-field').hidden = value('outside') !== 'defer';
}

/** A duration as typed: `1h` stays text for the API to read, digits are milliseconds. */
const durationInput = (text) => (/^\d+$/.test(text) ? Number(text) : text);

/**
 * The definition the fields say, and the problems found before asking the API (a maximum that is
 * not a whole number). `base`: the stored version being edited, whose other keys (priority, goal)
 * are kept. `rules`: the where and audience rule lists.
 */
export function readMessage(base, rules) {
  const local = [];
  const message = { id: value('id').trim(), channel: value('channel'), state: base?.state ?? 'draft' };
  if (!message.id) delete message.id;
  const name = value('name').trim();
  if (name) message.name = name;
  if (base?.priority) message.priority = base.priority;
  message.trigger = {};
  const event = value('event').trim();
  if (event) message.trigger.event = event;
  const where = rules.where.condition();
  if (where !== undefined) message.trigger.where = where;
  const audience = rules.audience.condition();
  if (audience !== undefined) message.audience = audience;

  const frequency = {};
  const interval = value('min-interval').trim();
  if (interval) frequency.min_interval = durationInput(interval);
  const most = value('max-sends').trim();
  if (/^\d+$/.test(most)) frequency.max_sends = Number(most);
  else if (most)
    local.push('frequency.max_sends: a whole number of sends to one user, or empty for no limit');
  if (Object.keys(frequency).length > 0) message.frequency = frequency;
  if ($('#f-transactional').checked) message.global_cap_exempt = true;
  if ($('#f-scheduled').checked) message.schedule = readSchedule();

  message.template = { body: value('body') };
  const subject = value('subject');
  if (subject.trim()) message.template.subject = subject;
  if (base?.goal) message.goal = base.goal;
  return { message, local };
}

function readSchedule() {
  const schedule = { timezone: value('timezone').trim() };
  const days = [...document.querySelectorAll('#f-days input')].filter((i) => i.checked).map((i) => i.value);
  // Every day is the absence of days; none is the API's to refuse ("list at least one day").
  if (days.length < DAYS.length) schedule.days = days;
  schedule.from = value('from').trim();
  schedule.to = value('to').trim();
  if (schedule.timezone === 'user' && value('fallback-timezone').trim())
    schedule.fallback_timezone = value('fallback-timezone').trim();
  if (value('outside') === 'defer') {
    schedule.outside = 'defer';
    const most = value('defer-max').trim();
    if (most) schedule.defer_max = durationInput(most);
  }
  return schedule;
}

/** Puts a stored version (or nothing: a new message) into the fields. */
export function fillMessage(message, rules) {
  const set = (name, text) => ($(`#f-${name}`).value = text ?? '');
  set('id', message?.id);
  set('name', message?.name);
  set('channel', message?.channel ?? 'email');
  set('event', message?.trigger?.event);
  rules.where.set(message?.trigger?.where);
  rules.audience.set(message?.audience);
  const interval = message?.frequency?.min_interval;
  set('min-interval', interval ? (typeof interval === 'number' ? duration(interval) : interval) : '');
  const most = message?.frequency?.max_sends;
  set('max-sends', most === null || most === undefined ? '' : String(most));
  $('#f-transactional').checked = message?.global_cap_exempt === true;
  const schedule = message?.schedule;
  $('#f-scheduled').checked = schedule !== undefined;
  set('timezone', schedule?.timezone ?? 'user');
  set('fallback-timezone', schedule?.fallback_timezone);
  set('from', schedule?.from ?? '09:00');
  set('to', schedule?.to ?? '18:00');
  for (const box of document.querySelectorAll('#f-days input'))
    box.checked = schedule?.days === undefined || schedule.days.includes(box.value);
  set('outside', schedule?.outside ?? 'suppress');
  const hold = schedule?.defer_max;
  set('defer-max', hold === undefined ? '' : typeof hold === 'number' ? duration(hold) : hold);
  set('subject', message?.template?.subject);
  set('body', message?.template?.body);
  showScheduleParts();
}

/** The frequency as the seed says it: "every time", "at most once per 1h", "at most 3 times", "until stopped". */
export function frequencyWords() {
  const interval = value('min-interval').trim();
  const most = value('max-sends').trim();
  // Words for what the fields say only when they say something: a typo is marked on its field instead.
  if ((interval && !/^\d+(ms|s|m|h|d|w)?$/.test(interval)) || (most && !/^\d+$/.test(most))) return '';
  const once = !interval || interval === '0' ? 'Every time it triggers' : `At most once per ${interval}`;
  const total =
    most === ''
      ? 'until the message is stopped'
      : most === '1'
        ? 'and once in all to a user'
        : `and at most ${most} times in all to a user`;
  return `${once}, ${total}.`;
}
