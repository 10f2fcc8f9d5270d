// The labeling page: keyboard first, one item at a time, never waiting on the network.
//
// - The next item is always prefetched (GET /next?exclude=...), so a label puts it on
//   screen at once; the label itself is sent in the background.
// - Labels, skips and flags go through an outbox (outbox.js) kept in localStorage and are
//   sent in order, retried until the server takes them. Each label carries a client_id,
//   so a retried or doubled request never makes a second annotation.
// - Undo and corrections are new annotations (label null withdraws one); nothing is
//   overwritten on the server.
// - Item text and metadata are user data: they are only ever set with textContent.
// - window.siftTimings collects, per keypress or click, the milliseconds until the next
//   item was rendered and painted (the browser test reads it).
(function () {
  "use strict";

  const root = document.getElementById("workbench");
  const projectId = root.dataset.project;
  const isAdmin = root.dataset.admin === "1";
  const $ = (id) => document.getElementById(id);
  const ui = {
    card: $("item-card"), text: $("item-text"), meta: $("item-meta"), itemId: $("item-id"), why: $("why"),
    suggestion: $("suggestion"), suggName: $("sugg-name"), suggConf: $("sugg-conf"), suggBar: $("sugg-bar"),
    banner: $("banner"), bannerText: $("banner-text"), toast: $("toast"), history: $("history"),
    conn: $("conn"), connText: $("conn-text"), flagDialog: $("flag-dialog"), flagComment: $("flag-comment"),
    helpDialog: $("help-dialog"),
  };
  const buttons = Array.from(document.querySelectorAll(".label-btn"));
  const keyToLabel = {};
  buttons.forEach((button, i) => {
    // Spread hues by the golden angle so neighbouring labels never look alike.
    button.style.setProperty("--hue", String(Math.round((212 + i * 137.508) % 360)));
    if (button.dataset.key) keyToLabel[button.dataset.key.toLowerCase()] = button.dataset.label;
  });

  // Two deep: one item for the next keypress, one more in case two labels come faster
  // than one round trip (accepting obvious suggestions with Enter, on a busy server).
  const PREFETCH = 2;
  const HISTORY_SHOWN = 12;
  const MAX_EXCLUDE = 60;
  const STALE_MS = 4 * 60 * 1000; // leases last 10 minutes; refresh a prefetched item well before
  // Asking for items again while offline: quickly at first, then every few seconds at most,
  // so the page recovers within seconds of the connection coming back.
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 3000;
  const STRATEGY_WORDS = {
    random: "Random pick",
    // The tag names the strategy; the text beside it says how sure the model actually is.
    margin: "Checks the model",
    least_confidence: "Checks the model",
    entropy: "Checks the model",
    error: "Model may be wrong",
    novelty: "Unlike anything labeled",
    mix: "Mixed strategies",
    overlap: "Second opinion",
    unaided: "Your call",
  };

  const timings = (window.siftTimings = []);
  const outboxKey = "sift:outbox:" + root.dataset.user + ":" + projectId;

  let current = null; // {item, suggestion, reason, fetchedAt} on screen
  let upcoming = []; // prefetched items, in order
  let fetching = null; // the GET /next in flight
  let exhausted = false; // the server had nothing more the last time it was asked
  let unreachable = null; // why the last GET /next failed ("offline", "server", "signed-out"), or null
  let retryTimer = null;
  let retryDelay = RETRY_MIN_MS;
  let waiting = false; // a key was pressed before the next item arrived
  let shownAt = 0;
  let done = []; // this session's labels, newest last, for undo: {data, label}
  let correcting = null; // the history entry whose label is being changed
  let pausedAt = 0;
  let history = [];
  let progress = null;
  let toastTimer = null;

  // ---- the outbox: every change the server has not confirmed yet (outbox.js) ----

  const outbox = SiftOutbox(outboxKey, {
    onChange: showConnection,
    onRefused: (entry, error) => toast("The server refused a " + (entry.kind === "skip" ? "skip" : "label") + ": " + error, true),
  });

  function enqueue(entry) {
    entry.url = "/api/v1/items/" + entry.item + (entry.kind === "skip" ? "/skip" : "/annotations");
    outbox.push(entry);
  }

  function showConnection() {
    const n = outbox.size();
    const kept = n + (n === 1 ? " change" : " changes") + " kept in this browser";
    const states = {
      ok: ["ok", "All labels saved"],
      saving: ["saving", n > 1 ? "Saving " + n + "…" : "Saving…"],
      offline: ["bad", "Offline · " + kept + ", retrying"],
      server: ["bad", "Server error · " + kept + ", retrying"],
      "signed-out": ["bad", "Signed out · " + kept + ". Log in again in another tab"],
    };
    const state = outbox.problem() || unreachable || (n ? "saving" : "ok");
    if (state === "ok") refreshProgressSoon();
    const [tone, text] = states[state];
    ui.conn.dataset.state = tone;
    ui.connText.textContent = text;
    if (ui.card.dataset.state === "offline") renderOffline();
  }

  // ---- the queue of items: current on screen, the next ones prefetched ----

  function excludeIds() {
    const ids = new Set();
    if (current) ids.add(current.item.id);
    upcoming.forEach((data) => ids.add(data.item.id));
    // Items whose label may not have reached the server yet must not come back.
    outbox.entries().forEach((entry) => ids.add(entry.item));
    return Array.from(ids).slice(-MAX_EXCLUDE);
  }

  const HELD = "held";
  let held = false;

  function fetchNext() {
    if (fetching) return fetching;
    const query = excludeIds().map((id) => "exclude=" + id).join("&");
    fetching = Sift.api("GET", "/api/v1/projects/" + projectId + "/next" + (query ? "?" + query : ""))
      .then((result) => {
        if (result.status === 204) return null;
        // 409: this annotator holds as many items as allowed (SIFT_MAX_LEASES), most of them labels
        // still on their way; ask again once they are sent, without calling it "nothing left".
        if (result.status === 409) return HELD;
        if (result.status === 401) throw new Error("signed-out");
        if (result.status >= 500 || result.status === 429) throw new Error("server");
        if (!result.ok) throw new Error((result.data && result.data.error) || "server");
        result.data.fetchedAt = Date.now();
        return result.data;
      })
      .finally(() => { fetching = null; });
    return fetching;
  }

  async function topUp() {
    while (upcoming.length < PREFETCH) {
      let data;
      try {
        data = await fetchNext();
      } catch (e) {
        // fetch() rejects with a TypeError when the network is down; anything else is the server's.
        unreachable = e instanceof TypeError ? "offline" : e.message === "signed-out" ? "signed-out" : "server";
        showConnection();
        retryLater();
        return;
      }
      if (unreachable) {
        unreachable = null;
        retryDelay = RETRY_MIN_MS;
        showConnection();
      }
      outbox.reachable();
      held = data === HELD;
      if (held) {
        retryLater();
        return;
      }
      exhausted = data === null;
      if (exhausted) return;
      const known = (current && current.item.id === data.item.id) || upcoming.some((d) => d.item.id === data.item.id);
      if (!known) upcoming.push(data);
      markPrefetched();
    }
  }

  function retryLater() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(retryNow, retryDelay);
    retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
  }

  // With no item on screen, the retry puts the next one there; otherwise it refills the prefetch.
  function retryNow() {
    clearTimeout(retryTimer);
    if (!current && !waiting && !correcting) advance();
    else topUp();
  }

  window.addEventListener("online", () => { retryDelay = RETRY_MIN_MS; if (unreachable) retryNow(); });

  // How many items are ready to show at once; the browser test reads it.
  function markPrefetched() {
    root.dataset.prefetched = String(upcoming.length);
  }

  async function advance(t0) {
    // A prefetched item that waited long may have lost its lease: asking again renews it.
    if (upcoming.length && Date.now() - upcoming[0].fetchedAt > STALE_MS) upcoming = [];
    if (!upcoming.length) {
      current = null;
      waiting = true;
      if (unreachable) renderOffline();
      else renderWaiting();
      await topUp();
      waiting = false;
    }
    const next = upcoming.shift() || null;
    // No item because the server could not be asked: that is not "nothing left".
    if (!next && unreachable) {
      show(null, undefined, true);
      return;
    }
    if (!next && held) {
      renderWaiting();
      return;
    }
    markPrefetched();
    show(next, t0);
    topUp();
  }

  // ---- rendering ----

  function show(data, t0, offline) {
    current = data;
    shownAt = performance.now();
    hideBanner();
    buttons.forEach((b) => { b.disabled = !data; b.classList.remove("suggested", "chosen"); });
    $("skip").disabled = $("flag").disabled = !data;
    if (!data) return offline ? renderOffline() : renderDone();
    ui.card.dataset.state = "item";
    ui.itemId.textContent = data.item.external_id;
    ui.text.textContent = data.item.text;
    renderMeta(data.item.meta || {});
    renderWhy(data.reason || {});
    renderSuggestion(data.suggestion);
    if (t0 !== undefined) measureFrom(t0);
  }

  function measureFrom(t0) {
    // The callback of the next animation frame runs before that frame is painted; a task
    // queued from it runs after the paint.
    requestAnimationFrame(() => setTimeout(() => {
      timings.push(performance.now() - t0);
    }, 0));
  }

  function renderMeta(meta) {
    const entries = Object.entries(meta);
    ui.meta.replaceChildren();
    ui.meta.hidden = entries.length === 0;
    entries.forEach(([key, value]) => {
      const row = Sift.el("div", { class: "meta-row" });
      row.appendChild(Sift.el("dt", {}, key));
      row.appendChild(Sift.el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)));
      ui.meta.appendChild(row);
    });
  }

  function renderWhy(reason) {
    const words = STRATEGY_WORDS[reason.strategy] || reason.strategy || "";
    ui.why.replaceChildren();
    if (!words) return;
    ui.why.appendChild(Sift.el("span", { class: "why-tag" }, words));
    // A random pick needs no more words than its tag.
    // A ranker's raw score means nothing to the annotator: only the words are shown.
    const detail = reason.strategy === "random" ? "" : reason.text || "";
    ui.why.appendChild(Sift.el("span", { class: "why-text" }, detail));
    ui.why.title = "Why this item: " + (reason.text || words);
  }

  function renderSuggestion(suggestion) {
    ui.suggestion.hidden = !suggestion;
    if (!suggestion) return;
    ui.suggName.textContent = suggestion.label;
    ui.suggConf.textContent = Math.round(100 * suggestion.confidence) + "%";
    ui.suggBar.style.width = Math.round(100 * suggestion.confidence) + "%";
    buttons.forEach((b) => b.classList.toggle("suggested", b.dataset.label === suggestion.label));
  }

  function renderWaiting() {
    ui.card.dataset.state = "loading";
    ui.text.textContent = "Loading the next item…";
    ui.itemId.textContent = "";
    ui.why.replaceChildren();
    ui.meta.hidden = true;
    ui.suggestion.hidden = true;
  }

  function renderOffline() {
    const n = outbox.entries().filter((e) => e.kind === "annotation").length;
    const kept = n === 1 ? "your 1 label is kept" : "your " + n + " labels are kept";
    const why = {
      offline: "You are offline",
      server: "The server is not answering",
      "signed-out": "You are signed out (log in again in another tab)",
    }[unreachable || "offline"];
    ui.card.dataset.state = "offline";
    ui.itemId.textContent = "";
    ui.why.replaceChildren();
    ui.meta.hidden = true;
    ui.suggestion.hidden = true;
    ui.text.textContent = why + "; " + kept + " and will be sent when the connection is back; retrying…";
  }

  function renderDone() {
    ui.card.dataset.state = "done";
    ui.itemId.textContent = "";
    ui.why.replaceChildren();
    ui.meta.hidden = true;
    ui.suggestion.hidden = true;
    ui.text.textContent = "Nothing left for you to label right now. New items appear here after the next import, " +
      "or when other annotators' items come free.";
    setTimeout(() => { if (!current && !waiting) advance(); }, 15000);
  }

  function showBanner(text) {
    ui.bannerText.textContent = text;
    ui.banner.hidden = false;
  }

  function hideBanner() { ui.banner.hidden = true; }

  function toast(text, bad) {
    ui.toast.textContent = text;
    ui.toast.classList.toggle("bad", !!bad);
    ui.toast.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => ui.toast.classList.remove("show"), bad ? 8000 : 2500);
  }

  function flashButton(label) {
    const button = buttons.find((b) => b.dataset.label === label);
    if (!button) return;
    button.classList.remove("pulse");
    void button.offsetWidth; // restart the animation
    button.classList.add("pulse");
  }

  // ---- actions ----

  function label(name, t0) {
    if (correcting) return relabel(name);
    if (!current || waiting) return;
    const data = current;
    const entry = {
      kind: "annotation",
      item: data.item.id,
      body: { label: name, duration_ms: Math.round(performance.now() - shownAt), client_id: Sift.uuid() },
      view: view(data.item),
    };
    enqueue(entry);
    done.push({ data: data, label: name, entry: entry });
    remember(data.item, name);
    count(+1);
    flashButton(name);
    toast("Labeled “" + name + "” · Z to undo");
    advance(t0);
  }

  function acceptSuggestion(t0) {
    if (current && current.suggestion && !correcting) label(current.suggestion.label, t0);
  }

  function skip(t0) {
    if (!current || waiting || correcting) return;
    enqueue({ kind: "skip", item: current.item.id, body: {} });
    toast("Skipped: it comes back later");
    advance(t0);
  }

  function openFlag() {
    if (!current || waiting || correcting) return;
    ui.flagComment.value = "";
    ui.flagDialog.showModal();
    ui.flagComment.focus();
  }

  function submitFlag() {
    ui.flagDialog.close();
    if (!current) return;
    const t0 = performance.now();
    enqueue({ kind: "skip", item: current.item.id, body: { flag: true, comment: ui.flagComment.value.trim() } });
    toast("Flagged for an admin");
    advance(t0);
  }

  function undo() {
    if (correcting) return stopCorrecting();
    if (waiting) return;
    const last = done.pop();
    if (!last) return toast("Nothing to undo in this session");
    // Never sent: forget it instead of sending a label and its withdrawal.
    if (!outbox.remove(last.entry)) {
      const withdrawal = { label: null, client_id: Sift.uuid() };
      enqueue({ kind: "annotation", item: last.data.item.id, body: withdrawal, view: view(last.data.item) });
    }
    forget(last.data.item.id);
    count(-1);
    if (current) upcoming.unshift(current);
    markPrefetched();
    show(last.data);
    showBanner("Undone: your label “" + last.label + "” is withdrawn. Label this item again.");
  }

  function startCorrecting(entry) {
    if (waiting) return;
    correcting = entry;
    pausedAt = performance.now();
    ui.card.dataset.state = "correcting";
    ui.itemId.textContent = entry.item.external_id;
    ui.why.replaceChildren();
    ui.text.textContent = entry.item.text;
    ui.meta.hidden = true;
    ui.suggestion.hidden = true;
    buttons.forEach((b) => {
      b.disabled = false;
      b.classList.remove("suggested");
      b.classList.toggle("chosen", b.dataset.label === entry.label);
    });
    const was = entry.label ? "now “" + entry.label + "”" : "currently withdrawn";
    showBanner("Changing your label for " + entry.item.external_id + " (" + was + "). Choose a label.");
    renderHistory();
  }

  function relabel(name) {
    const entry = correcting;
    enqueue({ kind: "annotation", item: entry.item.id, body: { label: name, client_id: Sift.uuid() }, view: entry.item });
    if (!entry.label) count(+1);
    done.forEach((d) => { if (d.data.item.id === entry.item.id) d.label = name; });
    remember(entry.item, name);
    toast("Changed " + entry.item.external_id + " to “" + name + "”");
    stopCorrecting();
  }

  function stopCorrecting() {
    correcting = null;
    const paused = performance.now() - pausedAt;
    const keepShownAt = shownAt + paused; // time spent correcting is not time on this item
    show(current);
    shownAt = keepShownAt;
    renderHistory();
  }

  // ---- history and progress ----

  function view(item) {
    return { id: item.id, external_id: item.external_id, text: item.text };
  }

  function remember(item, labelName) {
    history = history.filter((h) => h.item.id !== item.id);
    history.unshift({ item: view(item), label: labelName });
    renderHistory();
  }

  function forget(itemId) {
    history = history.filter((h) => h.item.id !== itemId);
    renderHistory();
  }

  function renderHistory() {
    ui.history.replaceChildren();
    const shown = history.slice(0, HISTORY_SHOWN);
    if (!shown.length) {
      ui.history.appendChild(Sift.el("li", { class: "empty" }, "Your labels will appear here."));
      return;
    }
    shown.forEach((entry) => {
      const li = Sift.el("li");
      const button = Sift.el("button", { type: "button", class: "history-row", title: "Change this label" });
      if (correcting && correcting.item.id === entry.item.id) button.classList.add("active");
      button.appendChild(Sift.el("span", { class: "h-text" }, entry.item.text));
      const tag = Sift.el("span", { class: "h-label" + (entry.label ? "" : " withdrawn") }, entry.label || "withdrawn");
      const swatch = buttons.find((b) => b.dataset.label === entry.label);
      if (swatch) tag.style.setProperty("--hue", swatch.style.getPropertyValue("--hue"));
      button.appendChild(tag);
      button.addEventListener("click", () => { button.blur(); startCorrecting(entry); });
      li.appendChild(button);
      ui.history.appendChild(li);
    });
  }

  async function loadHistory() {
    const result = await Sift.api("GET", "/api/v1/projects/" + projectId + "/history?limit=" + HISTORY_SHOWN)
      .catch(() => null);
    if (!result || !result.ok) return;
    const local = new Set(history.map((h) => h.item.id));
    history = history.concat(result.data.history.filter((h) => !local.has(h.item.id)));
    renderHistory();
  }

  function count(delta) {
    if (!progress) return;
    progress.today += delta;
    progress.mine += delta;
    renderProgress();
  }

  // Once the server has every label, its counts (the pool's, the test set's) are worth
  // asking for again; at most every few seconds, however fast the labels come.
  let progressTimer = null;
  let progressLoadedAt = 0;
  function refreshProgressSoon() {
    if (progressTimer) return;
    const wait = Math.max(0, progressLoadedAt + 5000 - Date.now());
    progressTimer = setTimeout(() => { progressTimer = null; loadProgress(); }, wait);
  }

  async function loadProgress() {
    progressLoadedAt = Date.now();
    const result = await Sift.api("GET", "/api/v1/projects/" + projectId + "/progress").catch(() => null);
    if (!result || !result.ok) return;
    // The server has not seen the labels still waiting in the outbox.
    const pending = outbox.entries().filter((e) => e.kind === "annotation" && e.body.label).length;
    progress = result.data;
    progress.today += pending;
    progress.mine += pending;
    renderProgress();
  }

  function renderProgress() {
    $("p-today").textContent = progress.today;
    $("p-mine").textContent = progress.mine;
    $("p-pool").textContent = progress.pool_labeled + " / " + progress.pool_total;
    $("p-pool-bar").style.width = share(progress.pool_labeled, progress.pool_total);
    if (isAdmin && progress.test_target !== undefined) {
      $("p-test").textContent = progress.test_labeled + " / " + progress.test_target;
      $("p-test-bar").style.width = share(progress.test_labeled, progress.test_target);
    }
  }

  function share(part, whole) { return whole ? Math.min(100, (100 * part) / whole).toFixed(1) + "%" : "0%"; }

  // ---- input ----

  buttons.forEach((b) => b.addEventListener("click", (event) => { b.blur(); label(b.dataset.label, event.timeStamp); }));
  $("accept").addEventListener("click", (event) => { event.currentTarget.blur(); acceptSuggestion(event.timeStamp); });
  $("skip").addEventListener("click", (event) => { event.currentTarget.blur(); skip(event.timeStamp); });
  $("flag").addEventListener("click", (event) => { event.currentTarget.blur(); openFlag(); });
  $("undo").addEventListener("click", (event) => { event.currentTarget.blur(); undo(); });
  $("banner-close").addEventListener("click", () => { if (correcting) stopCorrecting(); else hideBanner(); });
  $("help-btn").addEventListener("click", (event) => { event.currentTarget.blur(); ui.helpDialog.showModal(); });
  $("help-close").addEventListener("click", () => ui.helpDialog.close());
  $("flag-cancel").addEventListener("click", () => ui.flagDialog.close());
  $("flag-form").addEventListener("submit", (event) => { event.preventDefault(); submitFlag(); });

  document.addEventListener("keydown", (event) => {
    // Holding a key down must not label a run of items.
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (document.querySelector("dialog[open]")) return; // dialogs handle their own keys
    if (["INPUT", "TEXTAREA", "SELECT"].includes(event.target.tagName)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const t0 = event.timeStamp;
    if (keyToLabel[key]) label(keyToLabel[key], t0);
    else if (key === "Enter") acceptSuggestion(t0);
    else if (key === "s") skip(t0);
    else if (key === "z") undo();
    else if (key === "f") openFlag();
    else if (key === "?") ui.helpDialog.showModal();
    else if (key === "Escape" && correcting) stopCorrecting();
    else return;
    // Also keeps Enter from clicking whichever button has the focus.
    event.preventDefault();
  });

  // ---- start ----

  // Labels a previous page left unsent belong in the history at once, before the server has them.
  outbox.entries().forEach((entry) => { if (entry.kind === "annotation" && entry.view) remember(entry.view, entry.body.label); });
  showConnection();
  outbox.flush();
  loadProgress();
  loadHistory();
  setInterval(loadProgress, 60000);
  advance();
})();
