// Adding images: drag-and-drop (or a file chooser) into a collection (created if missing), then
// a jobs panel that polls each index job and shows its progress until it ends.

import { api } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const FINAL = new Set(["succeeded", "partial", "failed", "cancelled"]);
const POLL_MS = 400;
const IMAGE_NAME = /\.(png|jpe?g|webp|gif|bmp|tiff?|heic|avif)$/i;
const DEPTH_NAME = /\.(png|jpe?g|webp|tiff?|npy|npz)$/i;
const TEXT_NAME = /\.jsonl?$/i;

/** A job's progress in [0, 1]: processed = indexed + failed + skipped. */
function progress(job) {
  if (job.total) return Math.min(1, job.processed / job.total);
  return FINAL.has(job.status) ? 1 : 0;
}

export class Uploads {
  /** target(): the collection to upload into; onJobDone(job): a job ended (counts changed). */
  constructor(target, onJobDone, onError) {
    this.target = target;
    this.onJobDone = onJobDone;
    this.onError = onError;
    const drop = $("#drop");
    const input = $("#upload-file");
    drop.addEventListener("click", () => input.click());
    drop.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
    input.addEventListener("change", () => { this.send([...input.files]); input.value = ""; });
    // what the files are: photos, maps of one modality, or JSON lines of captions
    $("#upload-modality").addEventListener("change", () => {
      input.accept = this.modality() === "caption" ? ".jsonl,.json" : this.modality() === "depth" ? "image/*,.npy,.npz" : "image/*";
    });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      // folders and other files dropped along with the images are left out
      const wanted = this.modality() === "caption" ? TEXT_NAME : this.modality() === "depth" ? DEPTH_NAME : IMAGE_NAME;
      this.send([...e.dataTransfer.files].filter((f) => wanted.test(f.name) || (wanted === IMAGE_NAME && f.type.startsWith("image/"))));
    });
  }

  /** Show the collection's recent jobs; the ones still running are followed. */
  async showRecent(collection) {
    let jobs = [];
    try {
      jobs = (await api.jobs(collection)).jobs;
    } catch {
      return; // no jobs list: the panel shows this page's uploads only
    }
    $("#jobs").replaceChildren();
    for (const job of jobs.slice(0, 5).reverse()) this.poll(this.row(job), job, false);
  }

  modality() {
    return $("#upload-modality").value;
  }

  async send(files) {
    const collection = this.target();
    if (!files.length || !collection) return;
    const row = this.row(null, `${files.length} file${files.length > 1 ? "s" : ""} → ${collection}`);
    try {
      const job = await api.upload(collection, files, this.modality());
      this.label(row, job);
      this.poll(row, job);
    } catch (err) {
      this.finish(row, `failed: ${err.message}`, 0, true);
      this.onError(err);
    }
  }

  label(row, job) {
    row.dataset.job = job.id;
    row.querySelector(".label").textContent =
      `job ${job.id}: ${job.total} item${job.total === 1 ? "" : "s"} → ${job.collection}`;
  }

  row(job, text = "") {
    const li = document.createElement("li");
    li.innerHTML = `<span class="label"></span><progress max="1" value="0"></progress><span class="state">uploading…</span>`;
    li.querySelector(".label").textContent = text;
    if (job) this.label(li, job);
    $("#jobs").prepend(li);
    return li;
  }

  finish(row, text, value, failed = false, status = failed ? "failed" : "succeeded") {
    row.querySelector("progress").value = value;
    row.querySelector(".state").textContent = text;
    row.classList.toggle("failed", failed);
    row.dataset.status = status;
  }

  async poll(row, job, notify = true) {
    for (;;) {
      const share = progress(job);
      row.querySelector("progress").value = share;
      row.querySelector(".state").textContent =
        `${job.status} ${job.processed}/${job.total}${job.failed ? `, ${job.failed} failed` : ""}`;
      if (FINAL.has(job.status)) {
        const why = job.error || job.failures?.[0]?.reason;
        this.finish(row, `${job.status}: ${job.done} indexed${job.skipped ? `, ${job.skipped} already there` : ""}${job.failed ? `, ${job.failed} failed${why ? ` (${why})` : ""}` : ""}`,
          share, job.status !== "succeeded", job.status);
        if (notify) this.onJobDone(job);
        return;
      }
      notify = true; // it was running here: its end changes the counts
      await new Promise((r) => setTimeout(r, POLL_MS));
      try {
        job = await api.job(job.id);
      } catch (err) {
        this.finish(row, `lost: ${err.message}`, 0, true);
        return;
      }
    }
  }
}
