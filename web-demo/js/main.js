// Boots the demo: loads the Parley SDK (built by the wasm preset into vendor/), then shows the
// sign-in form or, when this tab is already signed in (e.g. after a reload), the chat.
import { ChatPage } from './chat_page.js';
import { currentSession, devToken, forgetSession, rememberSession } from './session.js';

const signIn = document.getElementById('sign-in');
const form = document.getElementById('sign-in-form');
const nameInput = document.getElementById('sign-in-name');
const errorLine = document.getElementById('sign-in-error');
const button = document.getElementById('sign-in-button');

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = false;
}

function showSignIn(sdk) {
  signIn.hidden = false;
  button.disabled = sdk === null;
  nameInput.focus();
}

async function enterChat(sdk, session) {
  const { token, user, tenant } = await devToken(session.user, session.tenant);
  rememberSession({ user, tenant });
  signIn.hidden = true;
  new ChatPage(sdk, { user, tenant }, token, () => {
    forgetSession();
    showSignIn(sdk);
  }).start();
}

let sdk = null;
try {
  sdk = await import('../vendor/parley.mjs');
} catch (error) {
  showError(`The Parley SDK could not be loaded (${error.message}). Build it with the wasm preset.`);
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  errorLine.hidden = true;
  const user = nameInput.value.trim();
  if (user === '') {
    showError('Enter a name to sign in.');
    return;
  }
  button.disabled = true;
  try {
    await enterChat(sdk, { user, tenant: 'default' });
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
});

const session = currentSession();
if (sdk !== null && session !== null) {
  enterChat(sdk, session).catch((error) => {
    showSignIn(sdk);
    showError(error.message);
  });
} else {
  showSignIn(sdk);
}
