// Sign-in page: posts the credentials and goes where the user was headed.
const form = document.getElementById('login-form');
const errorBox = document.getElementById('login-error');

function nextPath() {
  const next = new URLSearchParams(window.location.search).get('next') || '/incidents';
  // Only same-site paths: "/x", never "//host" or "https://...".
  return /^\/(?!\/)[A-Za-z0-9\-_./]*$/.test(next) ? next : '/incidents';
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errorBox.hidden = true;
  const submit = document.getElementById('login-submit');
  submit.disabled = true;
  try {
    const res = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
      credentials: 'same-origin',
    });
    if (res.ok) {
      window.location.replace(nextPath());
      return;
    }
    const data = await res.json().catch(() => null);
    errorBox.textContent = (data && data.error && data.error.message) || `Sign-in failed (${res.status})`;
    errorBox.hidden = false;
    form.password.value = '';
    form.password.focus();
  } catch {
    errorBox.textContent = 'The server could not be reached.';
    errorBox.hidden = false;
  } finally {
    submit.disabled = false;
  }
});
