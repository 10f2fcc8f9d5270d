// A job's page: poll the API and move the progress bar until the job ends.
(function () {
  const box = document.getElementById("job");
  const jobId = box.dataset.job;

  function show(job) {
    const state = document.getElementById("job-state");
    state.textContent = job.state;
    state.className = "badge " + ({ succeeded: "ok", failed: "bad" }[job.state] || "run");
    document.getElementById("job-message").textContent = job.message;
    document.getElementById("job-bar").style.width = Math.round(100 * job.progress) + "%";
    document.getElementById("job-progress").textContent = Math.round(100 * job.progress) + "% done";
    document.getElementById("job-error").textContent = job.error || "";
    const result = document.getElementById("job-result");
    result.replaceChildren();
    if (job.kind === "import") {
      showImport(job, result);
    } else if (job.kind === "predict") {
      showPredictions(job, result);
    } else if (job.result && job.result.metrics && job.result.metrics.n) {
      const m = job.result.metrics;
      result.textContent = "Test set (" + m.n + " items): accuracy " + Sift.pct(m.accuracy) +
        ", macro-F1 " + Sift.pct(m.macro_f1) + ".";
    }
  }

  // An import job: the counts once it succeeded, or every row error the 400 would have named.
  function showImport(job, result) {
    const r = job.result || {};
    if (job.state === "succeeded") {
      result.textContent = "Imported " + r.imported.toLocaleString() + " items: " +
        r.pool.toLocaleString() + " pool, " + r.test.toLocaleString() + " test, " +
        r.labeled.toLocaleString() + " already labeled.";
    } else if (r.rows && r.rows.length) {
      const table = document.createElement("table");
      table.id = "import-errors";
      table.className = "errors-table";
      for (const row of r.rows) {
        const tr = table.insertRow();
        tr.insertCell().textContent = "row " + row.row;
        tr.insertCell().textContent = row.error;
      }
      result.append(table);
    }
  }

  // A batch prediction job: its file's download link once it succeeded.
  function showPredictions(job, result) {
    const r = job.result || {};
    if (job.state !== "succeeded") return;
    result.append("Predicted " + r.rows.toLocaleString() + " texts with model " + r.model + ". ");
    const link = document.createElement("a");
    link.id = "predictions-download";
    link.href = "/api/v1/jobs/" + job.id + "/predictions";
    link.textContent = "Download the " + String(r.format).toUpperCase() + " file";
    result.append(link, " (project admins).");
  }

  async function poll() {
    const result = await Sift.api("GET", "/api/v1/jobs/" + jobId);
    if (result.ok) {
      show(result.data);
      if (result.data.state === "queued" || result.data.state === "running") {
        setTimeout(poll, 700);
        box.dataset.wasRunning = "1";
      } else if (box.dataset.wasRunning && result.data.kind === "simulate") {
        window.location.reload();  // the results table and plot are drawn by the server
      }
    }
  }
  poll();
})();
