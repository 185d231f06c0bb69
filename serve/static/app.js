// The deepscope web page: send an image to /v1/explain (or /v1/predict for
// models Grad-CAM cannot explain), draw the class probabilities as bars and
// the heat map over the image. Talks to this server only.
"use strict";

const $ = (id) => document.getElementById(id);
let current = null; // the File being shown

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

async function getJSON(url) {
  const r = await fetch(url);
  return r.json();
}

async function loadModel() {
  try {
    const m = (await getJSON("/v1/models")).models[0];
    let text = `${m.name} · ${m.architecture} · version ${m.version} · ${m.classes.length} classes · ${m.input.size} px`;
    if (m.test && m.test.accuracy != null) text += ` · test accuracy ${(100 * m.test.accuracy).toFixed(1)}%`;
    $("model").textContent = text;
  } catch (e) {
    $("model").textContent = "model information unavailable";
  }
}

async function loadDrift() {
  try {
    const d = await getJSON("/v1/drift");
    const b = $("drift");
    b.className = "badge";
    if (d.status !== "ready") {
      b.textContent = `drift: ${d.status}`;
    } else if (d.report.state === "warming_up") {
      b.textContent = `drift: ${d.report.window}/${d.report.min_window} images seen`;
    } else {
      b.textContent = d.report.alert ? "drift: ALERT" : "drift: ok";
      b.classList.add(d.report.alert ? "alert" : "ok");
      b.title = d.report.reasons.join("\n") || "recent inputs look like the training images";
    }
  } catch (e) {
    $("drift").textContent = "drift: unavailable";
  }
}

async function post(url, file) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  let body;
  try {
    body = await r.json();
  } catch (e) {
    body = { error: `${r.status} ${r.statusText}` };
  }
  return { ok: r.ok, status: r.status, body };
}

function drawBars(pred, explainedClass) {
  const ol = $("bars");
  ol.replaceChildren();
  const rows = Object.entries(pred.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [cls, p] of rows) {
    const li = document.createElement("li");
    li.dataset.class = cls;
    if (cls === explainedClass) li.classList.add("explained");
    const name = document.createElement("span");
    name.textContent = cls;
    const track = document.createElement("span");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.display = "block";
    bar.style.width = `${Math.max(0.5, 100 * p)}%`;
    track.append(bar);
    const pct = document.createElement("span");
    pct.className = "p";
    pct.textContent = `${(100 * p).toFixed(1)}%`;
    li.append(name, track, pct);
    li.addEventListener("click", () => analyse(current, cls));
    ol.append(li);
  }
  $("label").textContent = `${pred.label} (${(100 * pred.confidence).toFixed(1)}%)`;
}

async function analyse(file, cls) {
  if (!file) return;
  current = file;
  showError("");
  document.documentElement.dataset.state = "busy";
  $("photo").src = URL.createObjectURL(file);
  let url = "/v1/explain";
  if (cls) url += `?class=${encodeURIComponent(cls)}`;
  let res = await post(url, file);
  let explained = res.ok;
  if (res.status === 501) {
    res = await post("/v1/predict", file);
  }
  if (!res.ok) {
    showError(res.body.error || `error ${res.status}`);
    $("result").hidden = true;
    document.documentElement.dataset.state = "error";
    return;
  }
  const pred = explained ? res.body : res.body.predictions[0];
  $("result").hidden = false;
  drawBars(pred, explained ? res.body.class : "");
  const ov = $("overlay");
  if (explained) {
    ov.src = `data:image/png;base64,${res.body.overlay_png}`;
    ov.hidden = false;
    $("explained").textContent = `Grad-CAM for ${res.body.class}`;
  } else {
    ov.hidden = true;
    $("explained").textContent = "no heat map for this model";
  }
  setAlpha();
  loadDrift();
  document.documentElement.dataset.state = "done";
}

function setAlpha() {
  $("overlay").style.opacity = $("alpha").value / 100;
}

function init() {
  loadModel();
  loadDrift();
  const drop = $("drop");
  $("file").addEventListener("change", (e) => analyse(e.target.files[0]));
  $("alpha").addEventListener("input", setAlpha);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) analyse(e.dataTransfer.files[0]);
  });
  // ?selftest=/path/to/image puts an image from this server into the file
  // input, as a user picking it would, for headless browser tests.
  const st = new URLSearchParams(location.search).get("selftest");
  if (st && st.startsWith("/")) {
    fetch(st).then((r) => r.blob()).then((b) => {
      const dt = new DataTransfer();
      dt.items.add(new File([b], "selftest.png", { type: b.type || "image/png" }));
      $("file").files = dt.files;
      $("file").dispatchEvent(new Event("change"));
    });
  }
}

init();
