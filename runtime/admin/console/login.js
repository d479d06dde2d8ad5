// Runs on the answer to a login: keeps the session's token in this origin's storage, where
// only the console's own page reads it (docs/console.md), and replaces the address, so the
// login URL with its used code leaves the history.
'use strict';
const meta = document.querySelector('meta[name="gust-console-token"]');
if (meta) {
  localStorage.setItem('gust-console-token', meta.getAttribute('content'));
  meta.remove();
  location.replace('/');
}
