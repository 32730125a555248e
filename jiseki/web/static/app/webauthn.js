// Security keys and passkeys (WebAuthn): the login's key step, registering a key at first login and
// on the portal's page. The page's element [data-webauthn] names the addresses and carries the
// messages in the page's language; the answers go to the gateway as JSON with the CSRF token.

const b64url = {
  encode(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode(text) {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
    const raw = atob(base64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  },
};

function descriptors(list) {
  return (list || []).map((d) => ({ ...d, id: b64url.decode(d.id) }));
}

function creationOptions(json) {
  return {
    ...json,
    challenge: b64url.decode(json.challenge),
    user: { ...json.user, id: b64url.decode(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  return { ...json, challenge: b64url.decode(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: b64url.encode(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64url.encode(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = b64url.encode(r.authenticatorData);
    response.signature = b64url.encode(r.signature);
    if (r.userHandle && r.userHandle.byteLength) response.userHandle = b64url.encode(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: b64url.encode(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || null,
    response,
  };
}

async function post(root, url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': root.dataset.csrf },
    body: JSON.stringify(body || {}),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { ok: response.ok, data };
}

function say(root, text, isError) {
  const status = root.querySelector('[data-webauthn-status]');
  status.textContent = text;
  status.classList.toggle('error', Boolean(isError));
}

function failure(root, error) {
  // The user closed the browser's dialog, or it timed out: NotAllowedError (AbortError when cancelled).
  if (error && (error.name === 'NotAllowedError' || error.name === 'AbortError')) return root.dataset.msgCancelled;
  if (error && error.name === 'InvalidStateError') return root.dataset.msgRegistered;
  return root.dataset.msgFailed;
}

async function run(root, button, nameInput) {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    say(root, root.dataset.msgUnsupported, true);
    return;
  }
  const registering = root.dataset.mode === 'register';
  if (registering && nameInput && !nameInput.reportValidity()) return;
  button.disabled = true;
  say(root, root.dataset.msgWorking, false);
  try {
    const options = await post(root, root.dataset.options, {});
    if (!options.ok) {
      say(root, options.data.error || root.dataset.msgFailed, true);
      if (options.data.next) window.location.assign(options.data.next);
      return;
    }
    let credential;
    try {
      credential = registering
        ? await navigator.credentials.create({ publicKey: creationOptions(options.data) })
        : await navigator.credentials.get({ publicKey: requestOptions(options.data) });
    } catch (error) {
      say(root, failure(root, error), true);
      return;
    }
    const body = { credential: credentialJSON(credential) };
    if (registering) body.name = nameInput ? nameInput.value : '';
    const answer = await post(root, root.dataset.submit, body);
    if (answer.ok) {
      say(root, root.dataset.msgDone, false);
      window.location.assign(answer.data.next || '/');
      return;
    }
    say(root, answer.data.error || root.dataset.msgFailed, true);
    if (answer.data.next) setTimeout(() => window.location.assign(answer.data.next), 2500);
  } catch {
    say(root, root.dataset.msgFailed, true);
  } finally {
    button.disabled = false;
  }
}

for (const root of document.querySelectorAll('[data-webauthn]')) {
  const button = root.querySelector('[data-webauthn-start]');
  const form = root.querySelector('form');
  const nameInput = root.querySelector('input[name=name]');
  if (!window.PublicKeyCredential) say(root, root.dataset.msgUnsupported, true);
  const start = (event) => {
    if (event) event.preventDefault();
    run(root, button, nameInput);
  };
  if (form) form.addEventListener('submit', start);
  else button.addEventListener('click', start);
  if (root.dataset.auto === 'true' && window.PublicKeyCredential) start();
}
