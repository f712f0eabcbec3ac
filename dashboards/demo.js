// The quick start's demo app (issue #16): "Acme Files", a product page using the Nudge SDK as a
// customer's page would. A plain ES module served as it is; /sdk/nudge.js is loaded before it.

const $ = (selector) => document.querySelector(selector);
const FILES = [
  'quarterly-report.pdf',
  'product-demo.mp4',
  'brand-assets.zip',
  'roadmap-2026.xlsx',
  'team-offsite-photos.zip',
  'interview-notes.docx',
];
/** The event the demo's banner is triggered by (bin/demo/messages.json). */
const EVENT = 'upload-completed';
const STATUS = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  connected: 'Connected: messages arrive in real time',
  reconnecting: 'Reconnecting…',
  refused: 'Refused: the key or the user hash is wrong',
  stopped: 'Stopped',
};

const time = (ms) =>
  new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** The page's configuration, put in the page by the API; absent when the demo was not started. */
function config() {
  const element = $('#nudge-demo');
  return element ? JSON.parse(element.textContent) : undefined;
}

function showStatus(status) {
  document.body.dataset.status = status;
  $('#status').textContent = STATUS[status] ?? status;
}

/** An element holding text: every value shown comes from somewhere else, so none is ever markup. */
function text(tag, value, className) {
  const element = document.createElement(tag);
  element.textContent = value;
  if (className) element.className = className;
  return element;
}

/** How long an upload waits for its banner before saying none came (a send takes well under a second). */
const WAIT_FOR_MESSAGE_MS = 4_000;
/** Resolvers of the uploads waiting for their message, by the entry id their track was given. */
const waiting = new Map();
/** Messages that came before their upload's answer did (rare: the log acknowledges first). */
const arrived = new Map();
let lastFile = '';

/** What the upload brought: the message sent for its entry (a decision id ends with the entry id), or none. */
function messageFor(entryId) {
  if (arrived.has(entryId)) return Promise.resolve(arrived.get(entryId));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(entryId);
      resolve(undefined);
    }, WAIT_FOR_MESSAGE_MS);
    waiting.set(entryId, (message) => {
      clearTimeout(timer);
      waiting.delete(entryId);
      resolve(message);
    });
  });
}

function onMessage(message) {
  const entryId = message.decision_id.slice(message.decision_id.indexOf(':') + 1);
  const resolve = waiting.get(entryId);
  if (resolve) resolve(message);
  else arrived.set(entryId, message);
  refreshSoon();
}

async function upload() {
  const button = $('#upload');
  const file_name = pick(FILES.filter((name) => name !== lastFile));
  lastFile = file_name;
  const size_mb = Math.round(Math.random() * 2000) / 10;
  button.disabled = true;
  button.textContent = 'Uploading…';
  const row = document.createElement('tr');
  row.append(text('td', file_name), text('td', `${size_mb} MB`, 'number'), text('td', time(Date.now())));
  const outcome = text('td', 'sending…');
  row.append(outcome);
  $('#files-table tbody').prepend(row);
  $('#files-empty').hidden = true;
  try {
    const result = await Nudge.track(EVENT, { file_name, size_mb });
    $('#upload-result').textContent = `Uploaded ${file_name}: ${EVENT} tracked (${result.status}).`;
    outcome.textContent = 'waiting…';
    // The button is free again meanwhile: a second upload right away is the point of the demo.
    void messageFor(result.id).then((message) => {
      outcome.textContent =
        message === undefined ? 'none: see the dashboard for why' : `${message.channel} shown`;
      outcome.className = message === undefined ? 'outcome-none' : 'outcome-shown';
    });
  } catch (error) {
    outcome.textContent = 'failed';
    $('#upload-result').textContent = `The event was not tracked: ${error.message}`;
  } finally {
    button.disabled = false;
    button.textContent = 'Upload a file';
  }
}

function messageItem(message) {
  const item = document.createElement('li');
  item.dataset.decision = message.decision_id;
  const state = message.dismissed ? 'dismissed' : message.seen ? 'seen' : 'new';
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.append(
    text('span', message.channel, 'tag'),
    text('span', state, `tag state-${state}`),
    text('span', time(message.at)),
  );
  item.append(meta);
  if (message.subject) item.append(text('p', message.subject, 'inbox-subject'));
  item.append(text('p', message.body, 'inbox-body'));
  return item;
}

let refreshing = Promise.resolve();
/** The inbox as the API keeps it, newest first; one read at a time. */
function refreshInbox() {
  refreshing = refreshing.then(async () => {
    try {
      const messages = await Nudge.inbox();
      $('#inbox-list').replaceChildren(...messages.map(messageItem));
      $('#inbox-empty').hidden = messages.length > 0;
    } catch (error) {
      $('#inbox-empty').textContent = `The inbox could not be read: ${error.message}`;
      $('#inbox-empty').hidden = false;
    }
  });
  return refreshing;
}
/** After the page's own marks (seen on render, dismissed on close) have had a moment to land. */
const refreshSoon = () => setTimeout(refreshInbox, 400);

async function start() {
  const demo = config();
  if (!demo) {
    $('#app').hidden = true;
    $('#footer').hidden = true;
    $('#setup').hidden = false;
    document.body.dataset.state = 'unconfigured';
    return;
  }
  $('#user-name').textContent = `Ada (${demo.userId})`;
  $('#dashboard-link').href = demo.dashboardUrl;
  $('#dashboard-footer').href = demo.dashboardUrl;
  Nudge.onStatus(showStatus);
  Nudge.onMessage(onMessage);
  // A close of a rendered message changes its state in the inbox.
  document.addEventListener('click', (event) => {
    if (event.target.closest?.('[data-nudge-dismiss]')) refreshSoon();
  });
  $('#upload').addEventListener('click', upload);
  $('#refresh').addEventListener('click', refreshInbox);
  try {
    await Nudge.boot({ key: demo.key, userId: demo.userId, userHash: demo.userHash });
  } catch (error) {
    $('#upload-result').textContent = `Nudge refused this page: ${error.message}`;
    document.body.dataset.state = 'refused';
    return;
  }
  // The visitor's name and address, as a product's page would tell Nudge once its user signed in:
  // the banner greets them, and the mail the upload brings goes to the quick start's mail folder.
  Nudge.identify({ first_name: 'Ada', email: `${demo.userId}@example.com` }).catch(() => undefined);
  $('#upload').disabled = false;
  await refreshInbox();
  document.body.dataset.state = 'ready';
  // Again once the messages rendered at boot are marked seen.
  refreshSoon();
}

start();
