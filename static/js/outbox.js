// Changes the server has not confirmed yet: kept in localStorage, sent in order, retried.
//
// An entry is {url, body, ...anything the page wants to keep with it}. Network errors,
// 5xx, 429, a lost session (401) or a stale CSRF token keep the entry and retry with
// backoff; any other refusal can never succeed, so the entry is dropped and reported.
// A retry must be safe to repeat: annotations carry a client_id for exactly that.
window.SiftOutbox = function (storageKey, callbacks) {
  "use strict";
  const onChange = callbacks.onChange || function () {};
  const onRefused = callbacks.onRefused || function () {};
  let entries = load();
  let inflight = null;
  let sending = false;
  let problem = null; // "offline" | "server" | "signed-out" | null
  let retryTimer = null;
  let retryDelay = 1000;

  function load() {
    try { return JSON.parse(localStorage.getItem(storageKey)) || []; } catch (e) { return []; }
  }

  function save() {
    try { localStorage.setItem(storageKey, JSON.stringify(entries)); } catch (e) { /* private mode: memory only */ }
    onChange();
  }

  function push(entry) {
    entries.push(entry);
    save();
    // Later, not now: the page's next paint comes before any network work starts.
    setTimeout(flush, 0);
  }

  // Take back an entry not sent yet; false when it is on its way (or gone) already.
  function remove(entry) {
    const i = entries.indexOf(entry);
    if (i < 0 || entry === inflight) return false;
    entries.splice(i, 1);
    save();
    return true;
  }

  async function flush() {
    if (sending || !entries.length) return;
    sending = true;
    clearTimeout(retryTimer);
    try {
      while (entries.length) {
        const entry = (inflight = entries[0]);
        onChange();
        let result;
        try {
          result = await Sift.api("POST", entry.url, entry.body);
        } catch (e) {
          return retryLater("offline");
        }
        const error = (result.data && result.data.error) || "";
        if (result.status === 401 || (result.status === 403 && /csrf/i.test(error))) return retryLater("signed-out");
        if (result.status >= 500 || result.status === 429) return retryLater("server");
        entries.shift();
        problem = null;
        retryDelay = 1000;
        save();
        if (!result.ok) onRefused(entry, error || "status " + result.status);
      }
    } finally {
      sending = false;
      inflight = null;
    }
  }

  function retryLater(reason) {
    problem = reason;
    onChange();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, retryDelay);
    // Capped at a few seconds: labels reach the server soon after the connection is back.
    retryDelay = Math.min(retryDelay * 2, 4000);
  }

  // Something other than sending found the server reachable again: try now.
  function reachable() {
    if (problem && problem !== "signed-out") {
      problem = null;
      onChange();
    }
    flush();
  }

  window.addEventListener("online", () => { retryDelay = 1000; flush(); });

  return {
    push: push,
    remove: remove,
    flush: flush,
    reachable: reachable,
    entries: () => entries.slice(),
    size: () => entries.length,
    problem: () => problem,
    setProblem: (reason) => { problem = reason; onChange(); },
  };
};
