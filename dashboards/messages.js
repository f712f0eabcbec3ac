// The messages page (issue #19): the list of messages with their last 7 days, the composer with its
// live preview, test send and impact preview, and a message's versions with their differences.
// A plain ES module served as it is (no build step); it asks the API with the key it is given.

import { composer } from './composer.js';
import { previewImpact } from './impact.js';
import { messageList } from './message-list.js';
import { initialKey, problemText, useKey } from './nudge-api.js';
import { preview } from './preview.js';
import { versionHistory } from './versions.js';

const $ = (selector) => document.querySelector(selector);

function status(text, state) {
  $('#status').textContent = text;
  if (state) document.body.dataset.state = state;
}

const list = messageList({
  open: (message) => void compose.open(message, list.ids()),
  history: (id) =>
    void versions.show(id).catch((error) => status(problemText(error, 'Reading the versions'))),
  acted: (message, text) => {
    compose.refreshed(message);
    status(text, 'ready');
  },
  failed: (error, doing) => status(problemText(error, doing), 'error'),
});
const versions = versionHistory();
const live = preview({
  definition: () => compose.definition(),
  seeAttributes: (names) => compose.seeAttributes(names),
});
const compose = composer({
  preview: live,
  impact: previewImpact,
  changed: async () => {
    await list.load();
    status(`${list.ids().length} messages`, 'ready');
  },
});

async function load() {
  status('loading…', 'loading');
  try {
    const messages = await list.load();
    status(`${messages.length} ${messages.length === 1 ? 'message' : 'messages'}`, 'ready');
  } catch (error) {
    status(problemText(error, 'Reading the messages'), 'error');
  }
}

$('#key').value = initialKey();
useKey($('#key').value);
$('#key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  useKey($('#key').value);
  void load();
});
$('#refresh-list').addEventListener('click', () => void load());
$('#new-message').addEventListener('click', () => void compose.open(undefined, list.ids()));
$('#close-composer').addEventListener('click', () => compose.close());
$('#close-history').addEventListener('click', () => ($('#history').hidden = true));
if ($('#key').value) void load();
else status('give an API key to start (an admin key to compose)', 'ready');
