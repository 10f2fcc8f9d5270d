// The labeling page: one item at a time through the JSON API, keyboard first.
// Item text and metadata are user data: they are only ever set with textContent.
(function () {
  const bench = document.getElementById("workbench");
  const projectId = bench.dataset.project;
  const textBox = document.getElementById("item-text");
  const metaBox = document.getElementById("item-meta");
  const suggestionBox = document.getElementById("suggestion");
  const reasonBox = document.getElementById("reason");
  const statusBox = document.getElementById("status");
  const counter = document.getElementById("session-count");
  const buttons = Array.from(document.querySelectorAll("#label-buttons button"));
  const keyToLabel = {};
  buttons.forEach((b) => { if (b.dataset.key) keyToLabel[b.dataset.key.toLowerCase()] = b.dataset.label; });

  let current = null;
  let shownAt = 0;
  let busy = false;
  let labeled = 0;

  function setStatus(message, bad) {
    statusBox.textContent = message || "";
    statusBox.classList.toggle("bad", !!bad);
  }

  function render(data) {
    current = data;
    shownAt = performance.now();
    buttons.forEach((b) => { b.disabled = !data; b.classList.remove("suggested"); });
    document.getElementById("skip").disabled = !data;
    metaBox.replaceChildren();
    suggestionBox.hidden = true;
    reasonBox.textContent = "";
    if (!data) {
      textBox.classList.add("muted");
      textBox.textContent = "Nothing left to label right now. Check back after the next import or retrain.";
      return;
    }
    textBox.classList.remove("muted");
    textBox.textContent = data.item.text;
    metaBox.appendChild(Sift.el("span", {}, "id " + data.item.external_id));
    Object.entries(data.item.meta || {}).forEach(([k, v]) => {
      metaBox.appendChild(Sift.el("span", {}, k + ": " + (typeof v === "string" ? v : JSON.stringify(v))));
    });
    if (data.suggestion) {
      suggestionBox.hidden = false;
      suggestionBox.textContent = "Model suggests “" + data.suggestion.label + "” (" +
        Sift.pct(data.suggestion.confidence) + ") — Enter to accept.";
      buttons.forEach((b) => b.classList.toggle("suggested", b.dataset.label === data.suggestion.label));
    }
    if (data.reason && data.reason.text) reasonBox.textContent = "Why this item: " + data.reason.text;
  }

  async function loadNext() {
    const result = await Sift.api("GET", "/api/v1/projects/" + projectId + "/next");
    if (result.status === 204) return render(null);
    if (!result.ok) return setStatus((result.data && result.data.error) || "Could not load the next item.", true);
    render(result.data);
  }

  async function submit(label) {
    if (!current || busy) return;
    busy = true;
    const body = { label: label, duration_ms: Math.round(performance.now() - shownAt), client_id: Sift.uuid() };
    try {
      const result = await Sift.api("POST", "/api/v1/items/" + current.item.id + "/annotations", body);
      if (!result.ok) { setStatus((result.data && result.data.error) || "The label was not saved.", true); return; }
      labeled += 1;
      counter.textContent = labeled + " labeled this session";
      setStatus("Saved “" + label + "”.");
      await loadNext();
    } catch (e) {
      setStatus("The server cannot be reached; your label was not saved. Try again.", true);
    } finally {
      busy = false;
    }
  }

  async function skip() {
    if (!current || busy) return;
    busy = true;
    try {
      await Sift.api("POST", "/api/v1/items/" + current.item.id + "/skip", {});
      setStatus("Skipped.");
      await loadNext();
    } finally {
      busy = false;
    }
  }

  buttons.forEach((b) => b.addEventListener("click", () => submit(b.dataset.label)));
  document.getElementById("skip").addEventListener("click", skip);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return;
    const key = event.key.toLowerCase();
    if (keyToLabel[key]) { event.preventDefault(); submit(keyToLabel[key]); }
    else if (key === "enter" && current && current.suggestion) { event.preventDefault(); submit(current.suggestion.label); }
    else if (key === "s") { event.preventDefault(); skip(); }
  });

  loadNext();
})();
