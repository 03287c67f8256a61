// Error answers a test provokes on purpose, to pass as the `ignore` option
// of Recorder.assertClean(): exactly those responses (and the console line
// Chromium prints for each failed fetch) are accepted, nothing else.

/**
 * `expected` is a list of {path, status}: the URL path (query ignored) and
 * HTTP status of an answer the test expects.
 */
export function allowing(expected) {
  const match = (url, status) => {
    let p;
    try {
      p = new URL(url).pathname;
    } catch {
      return false;
    }
    return expected.some((e) => e.path === p && e.status === status);
  };
  return (kind, entry) => {
    if (kind === 'HTTP error response') return match(entry.url, entry.status);
    if (kind === 'console error') {
      // "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
      const m = /^Failed to load resource: the server responded with a status of (\d{3})\b/.exec(entry.text);
      // The recorder stores the location as "<url>:<line>".
      return Boolean(m) && match(entry.url.replace(/:\d+$/, ''), Number(m[1]));
    }
    return false;
  };
}
