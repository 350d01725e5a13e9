// The playground: pick files, ask, and see the answer, the experts' reports and how they ran.
// It talks to the same /v1/reason and /v1/experts routes as any client, with the same key.
"use strict";

// the extensions the server reads as each type (tests/test_media.py holds it to
// mexa_ray.media.extensions); ".nii.gz" ends in "gz"
const KINDS = {
  image: ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
  audio: ["wav", "mp3", "flac", "ogg", "oga"],
  video: ["mp4", "webm", "mov", "avi", "mkv", "mpeg", "mpg"],
  table: ["csv", "tsv", "parquet"],
  points: ["ply", "pcd", "xyz", "xyzn", "xyzrgb", "pts"],
  text: ["txt", "md", "srt", "vtt", "htm"],
  volume: ["nii", "gz", "npy"],
};
const $ = (id) => document.getElementById(id);
// the app's root (a Serve route prefix may put it below "/"): the page is served there
const ROOT = location.pathname.endsWith("/") ? location.pathname : `${location.pathname}/`;
const picked = [];  // {file, type}

function kindOf(name) {
  const ext = name.toLowerCase().split(".").pop();
  for (const [kind, exts] of Object.entries(KINDS)) if (exts.includes(ext)) return kind;
  return "image";
}

function formatOf(name) {
  const lower = name.toLowerCase();
  if (lower.endsWith(".nii.gz")) return "nii.gz";
  return lower.includes(".") ? lower.split(".").pop() : null;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function preview(item) {
  const { file, type } = item;
  const url = URL.createObjectURL(file);
  if (type === "image") return el("img", { src: url, alt: file.name });
  if (type === "audio") return el("audio", { src: url, controls: "" });
  if (type === "video") return el("video", { src: url, controls: "", muted: "" });
  if ((type === "table" && !file.name.endsWith(".parquet")) || type === "text") {
    const head = (await file.slice(0, 4096).text()).split(/\r?\n/).slice(0, 6);
    if (type === "text") return el("pre", { text: head.join("\n") });
    const sep = file.name.endsWith(".tsv") ? "\t" : ",";
    const table = el("table");
    for (const line of head.filter(Boolean)) {
      const tr = el("tr");
      for (const cell of line.split(sep).slice(0, 8)) tr.append(el("td", { text: cell }));
      table.append(tr);
    }
    return table;
  }
  return el("small", { text: `${(file.size / 1024).toFixed(1)} KiB` });
}

async function renderMedia() {
  const list = $("media");
  list.replaceChildren();
  for (const [i, item] of picked.entries()) {
    const select = el("select", { "aria-label": "media type" });
    for (const kind of Object.keys(KINDS)) {
      const opt = el("option", { value: kind, text: kind });
      if (kind === item.type) opt.selected = true;
      select.append(opt);
    }
    select.addEventListener("change", () => { item.type = select.value; renderMedia(); });
    const remove = el("button", { type: "button", class: "remove", text: "remove" });
    remove.addEventListener("click", () => { picked.splice(i, 1); renderMedia(); });
    list.append(el("li", { "data-name": item.file.name }, `${item.file.name} `, select, " ",
                   remove, await preview(item)));
  }
}

function addFiles(files) {
  for (const file of files) picked.push({ file, type: kindOf(file.name) });
  renderMedia();
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function headers() {
  const h = { "content-type": "application/json" };
  const key = $("key").value.trim();
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

function showError(body, status) {
  const box = $("error");
  const err = (body && body.error) || { message: `HTTP ${status}`, type: "http_error" };
  box.replaceChildren(el("strong", { text: `Error ${status}: ` }),
                      el("span", { class: "message", text: err.message }));
  if (err.field) box.append(el("p", { class: "field", text: `field: ${err.field}` }));
  if (err.type) box.append(el("p", { class: "type", text: `type: ${err.type}` }));
  box.hidden = false;
  if (status === 401) $("key-row").hidden = false;
}

async function loadExperts() {
  const resp = await fetch(`${ROOT}v1/experts`, { headers: headers() });
  if (resp.status === 401) { $("key-row").hidden = false; return; }
  if (!resp.ok) return;
  const box = $("experts");
  box.replaceChildren();
  for (const card of (await resp.json()).experts) {
    const skills = card.skills.map((s) => `${s.id} ${s.name}`).join(", ");
    box.append(el("label", { class: "expert" },
                  el("input", { type: "checkbox", value: card.name }),
                  ` ${card.name} [${card.modalities.join(", ")}]: ${skills}`));
  }
}

function drawTimeline(rows) {
  const box = $("timeline");
  box.replaceChildren();
  const total = Math.max(...rows.map((r) => r.end_s || 0), 0.001);
  for (const r of rows) {
    const name = r.stage === "expert" ? `${r.expert} [${r.skill}]` : r.stage;
    const track = el("div", { class: "track" });
    if (r.stage === "expert" && r.sent_s !== undefined && r.start_s > r.sent_s) {
      track.append(el("div", { class: "bar wait", title: "waiting for a replica",
        style: `left:${(100 * r.sent_s) / total}%;width:${(100 * (r.start_s - r.sent_s)) / total}%` }));
    }
    const kind = r.stage === "total" ? "total" : r.status === "missing" ? "missing" : "";
    track.append(el("div", { class: `bar ${kind}`,
      style: `left:${(100 * r.start_s) / total}%;width:${(100 * (r.end_s - r.start_s)) / total}%` }));
    box.append(el("div", { class: "row", "data-stage": r.stage, "data-expert": r.expert || "" },
                  el("span", { class: "label", text: name }), track,
                  el("span", { class: "secs", text: `${(r.end_s - r.start_s).toFixed(2)} s` })));
  }
}

function showAnswer(a) {
  $("answer").textContent = a.answer;
  $("option").textContent = a.option_index === null || a.option_index === undefined ? ""
    : `Option ${"ABCDEFGHIJ"[a.option_index]}` +
      (a.confidence === null || a.confidence === undefined ? "" : `, confidence ${a.confidence.toFixed(2)}`) +
      ` (router: ${a.router}, aggregator: ${a.aggregator})`;
  $("reasoning").textContent = a.reasoning;
  $("selected").replaceChildren(...a.selected.map((s) =>
    el("li", { text: `${s.expert} [${s.skill}]: ${s.why}` })));
  $("missing").replaceChildren(...a.missing.map((m) => el("li", { text: `${m.expert}: ${m.reason}` })));
  $("missing-block").hidden = a.missing.length === 0;
  $("reports").replaceChildren(...a.reports.map((r) => el("details", { class: "report", open: "" },
    el("summary", { text: `${r.expert} [${r.skill}], ${r.latency_s.toFixed(2)} s` }),
    el("pre", { text: r.text }))));
  $("notes").replaceChildren(...a.notes.map((n) => el("li", { text: n })));
  $("notes-block").hidden = a.notes.length === 0;
  drawTimeline(a.timeline || []);
  $("result").hidden = false;
}

async function ask() {
  $("error").hidden = true;
  $("result").hidden = true;
  const button = $("send");
  button.disabled = true;
  const began = performance.now();
  $("status").textContent = "Reading the files...";
  try {
    const media = [];
    for (const item of picked) {
      media.push({ type: item.type, data: await base64(item.file),
                   format: formatOf(item.file.name), name: item.file.name });
    }
    const body = { question: $("question").value, media };
    const options = $("options").value.split("\n").map((s) => s.trim()).filter(Boolean);
    if (options.length) body.options = options;
    const experts = [...document.querySelectorAll("#experts input:checked")].map((i) => i.value);
    if (experts.length) body.experts = experts;
    const deadline = parseFloat($("deadline").value);
    if (deadline > 0) body.deadline_s = deadline;
    $("status").textContent = "Asking the experts...";
    const resp = await fetch(`${ROOT}v1/reason`, { method: "POST", headers: headers(),
                                             body: JSON.stringify(body) });
    let payload = null;
    try { payload = await resp.json(); } catch (e) { payload = null; }
    if (!resp.ok) { showError(payload, resp.status); $("status").textContent = ""; return; }
    showAnswer(payload);
    $("status").textContent = `Answered in ${((performance.now() - began) / 1000).toFixed(2)} s`;
  } catch (e) {
    showError({ error: { message: String(e), type: "network" } }, 0);
    $("status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

$("files").addEventListener("change", (e) => addFiles(e.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over"); addFiles(e.dataTransfer.files);
});
$("send").addEventListener("click", ask);
$("key").addEventListener("change", loadExperts);
loadExperts();
