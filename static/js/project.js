// The project page's model panel: the active model and the latest job that makes or
// changes a model (a retrain, an activation's scoring, an evaluation), from the API.
(function () {
  const panel = document.getElementById("model-panel");
  const projectId = panel.dataset.project;
  const modelBox = document.getElementById("model-summary");
  const jobBox = document.getElementById("job-summary");
  // Imports, exports and simulations have their own pages: not this panel's business.
  const MODEL_JOBS = ["retrain", "score", "evaluate"];
  const KIND_WORDS = { retrain: "Retrain", score: "Scoring", evaluate: "Evaluation" };

  function showModel(models) {
    const active = models.find((m) => m.active);
    modelBox.replaceChildren();
    if (!active) {
      modelBox.textContent = "No model yet: items are served in random order until the first retrain.";
      return;
    }
    const m = active.metrics || {};
    modelBox.classList.remove("muted");
    const line = Sift.el("div");
    line.appendChild(Sift.el("b", {}, "Model " + active.short_id));
    line.appendChild(document.createTextNode(
      " · trained on " + active.train_size + " labels · dataset v" + active.dataset_version));
    modelBox.appendChild(line);
    const score = m.n ? "Test set (" + m.n + " items): accuracy " + Sift.pct(m.accuracy) +
      ", macro-F1 " + Sift.pct(m.macro_f1) : "No labeled test items yet: the model is not evaluated.";
    modelBox.appendChild(Sift.el("div", { class: "small muted" }, score));
    // Stopping guidance of the newest ready model (computed in its evaluate job).
    const newest = models.find((v) => v.status === "ready" && v.stopping);
    if (newest) {
      const box = Sift.el("div", { class: "small", id: "stopping-guidance", style: "margin-top:.4rem" });
      box.appendChild(Sift.el("b", {}, "Does labeling more pay? "));
      box.appendChild(document.createTextNode(newest.stopping.sentence));
      if (newest.id !== active.id) box.appendChild(document.createTextNode(" (model " + newest.short_id + ")"));
      modelBox.appendChild(box);
    }
  }

  function showJob(job) {
    jobBox.replaceChildren();
    if (!job) return;
    const badge = { succeeded: "ok", failed: "bad", running: "run", queued: "run" }[job.state];
    const head = Sift.el("div", { class: "small" });
    head.appendChild(Sift.el("span", { class: "badge " + badge }, job.state));
    head.appendChild(document.createTextNode(" "));
    head.appendChild(Sift.el("a", { href: "/jobs/" + job.id + "/" }, KIND_WORDS[job.kind] + " job " + job.id));
    head.appendChild(document.createTextNode(": " + (job.error || job.message)));
    jobBox.appendChild(head);
    if (job.state === "running" || job.state === "queued") {
      const bar = Sift.el("div", { class: "progress", style: "margin-top:.4rem" });
      const fill = Sift.el("div", { style: "width:" + Math.round(100 * job.progress) + "%" });
      bar.appendChild(fill);
      jobBox.appendChild(bar);
    }
  }

  async function refresh() {
    const [models, jobs] = await Promise.all([
      Sift.api("GET", "/api/v1/projects/" + projectId + "/models"),
      Sift.api("GET", "/api/v1/projects/" + projectId + "/jobs"),
    ]);
    const latest = jobs.ok ? jobs.data.find((job) => MODEL_JOBS.includes(job.kind)) : undefined;
    if (models.ok) showModel(models.data);
    if (jobs.ok) showJob(latest);
    const running = latest && ["queued", "running"].includes(latest.state);
    setTimeout(refresh, running ? 1000 : 10000);
  }
  refresh();
})();
