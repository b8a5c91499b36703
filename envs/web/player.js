// player.js: a trained agent playing live in the page.
//
// Loads ENV.wasm (envs/web/web_main.c compiled by puffer-learn export --web)
// and the weight file, then each animation frame steps the env `speed` ticks
// and draws it. The env's raylib draw calls arrive as imports of module
// "draw" (envs/web/raylib_canvas.h) and are drawn here on a Canvas 2D.
//
//   PufferPlayer.mount(element, {wasm, weights, seed, episodes, argmax, speed})
//
// returns the state {ticks, episodes, score, done, error, result, fps}, kept
// up to date. `score` is the mean score of the finished episodes, frozen once
// `episodes` have finished (`done`): the native demo's JSON "score" for the
// same seed, weights and policy. On any failure (no WebAssembly, a missing
// file, weights the module refuses) the element shows the message and keeps
// its fallback image, and `error` holds the message.
(function () {
  "use strict";

  function css(c) {  // packed r | g<<8 | b<<16 | a<<24, as raylib_canvas.h sends it
    return "rgba(" + (c & 255) + "," + ((c >>> 8) & 255) + "," + ((c >>> 16) & 255) + "," +
      (((c >>> 24) & 255) / 255) + ")";
  }

  // The draw imports: one per call of raylib_canvas.h.
  function drawImports(get) {
    const text = new TextDecoder();
    return {
      clear(c) { const g = get(); g.ctx.fillStyle = css(c); g.ctx.fillRect(0, 0, g.w, g.h); },
      circle(x, y, r, c) {
        const ctx = get().ctx;
        ctx.fillStyle = css(c); ctx.beginPath(); ctx.arc(x, y, Math.max(r, 0), 0, 2 * Math.PI); ctx.fill();
      },
      line(x0, y0, x1, y1, thick, c) {
        const ctx = get().ctx;
        ctx.strokeStyle = css(c); ctx.lineWidth = thick;
        ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
      },
      rect(x, y, w, h, c) { const ctx = get().ctx; ctx.fillStyle = css(c); ctx.fillRect(x, y, w, h); },
      poly(ptr, n, filled, c) {
        const g = get(), ctx = g.ctx;
        const xy = new Float32Array(g.memory.buffer, ptr, 2 * n);  // a fresh view: memory may grow
        ctx.beginPath(); ctx.moveTo(xy[0], xy[1]);
        for (let k = 1; k < n; k++) ctx.lineTo(xy[2 * k], xy[2 * k + 1]);
        ctx.closePath();
        if (filled) { ctx.fillStyle = css(c); ctx.fill(); } else { ctx.strokeStyle = css(c); ctx.lineWidth = 1; ctx.stroke(); }
      },
      text(ptr, x, y, size, c) {
        const g = get(), bytes = new Uint8Array(g.memory.buffer);
        let end = ptr;
        while (bytes[end] !== 0) end++;
        g.ctx.fillStyle = css(c); g.ctx.font = size + "px monospace"; g.ctx.textBaseline = "top";
        g.ctx.fillText(text.decode(bytes.subarray(ptr, end)), x, y);
      },
    };
  }

  // Options from the page's address: ?seed=S&episodes=N&argmax=1&speed=K
  function fromQuery(search) {
    const q = new URLSearchParams(search), out = {};
    for (const key of ["seed", "episodes", "speed"]) if (q.has(key)) out[key] = q.get(key);
    if (q.has("argmax")) out.argmax = q.get("argmax") === "1" || q.get("argmax") === "true";
    return out;
  }

  function wholeNumber(name, value, min) {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min)
      throw new Error(name + " must be a whole number >= " + min + ", got " + JSON.stringify(String(value)));
    return n;
  }

  async function fetchBytes(url) {
    let response;
    try { response = await fetch(url); } catch (e) { throw new Error("cannot fetch " + url + ": " + e.message); }
    if (!response.ok) throw new Error("cannot fetch " + url + ": HTTP " + response.status);
    return response.arrayBuffer();
  }

  function mount(el, options) {
    const o = Object.assign({seed: 0, episodes: 10, argmax: false, speed: 1}, options || {});
    const state = {ticks: 0, episodes: 0, score: null, done: false, error: null, result: null, fps: 0,
                   frames: 0, msPerFrame: 0};
    const status = document.createElement("div");
    status.className = "pl-status";
    el.appendChild(status);

    function fail(message) {
      state.error = message;
      status.className = "pl-status pl-error";
      status.textContent = "The live agent cannot play here: " + message;
      el.classList.add("pl-failed");
    }

    (async function start() {
      if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
      const seed = wholeNumber("seed", o.seed, 0), episodes = wholeNumber("episodes", o.episodes, 1);
      const speed = wholeNumber("speed", o.speed, 1);
      const [wasmBytes, weights] = await Promise.all([fetchBytes(o.wasm), fetchBytes(o.weights)]);
      const canvas = document.createElement("canvas");
      const g = {ctx: canvas.getContext("2d"), memory: null, w: 0, h: 0};
      const imports = {draw: drawImports(() => g), wasi_snapshot_preview1: new Proxy({}, {
        get: (_, name) => (name === "proc_exit" ? (code) => { throw new Error("the module exited (" + code + ")"); } : () => 0),
      })};
      // Not instantiateStreaming: that one depends on the server's MIME type.
      const {instance} = await WebAssembly.instantiate(wasmBytes, imports);
      const ex = instance.exports;
      g.memory = ex.memory;
      ex._initialize();
      const ptr = ex.pl_web_malloc(weights.byteLength);
      new Uint8Array(ex.memory.buffer, ptr, weights.byteLength).set(new Uint8Array(weights));
      const cString = (p) => { const b = new Uint8Array(ex.memory.buffer); let e = p; while (b[e]) e++;
                               return new TextDecoder().decode(b.subarray(p, e)); };
      if (ex.pl_web_init(ptr, weights.byteLength, seed, o.argmax ? 1 : 0, episodes))
        throw new Error(cString(ex.pl_web_error()));
      // "sample", "argmax", or "mean" (a continuous env plays the policy's mean action)
      const policy = JSON.parse(cString(ex.pl_web_result())).policy;
      g.w = canvas.width = ex.pl_web_width();
      g.h = canvas.height = ex.pl_web_height();
      canvas.className = "pl-canvas";
      for (const img of el.querySelectorAll("img")) img.remove();  // the GIF fallback
      el.insertBefore(canvas, status);
      ex.pl_web_render();

      // Frames per second the page draws at (over the last 60 frames; the
      // browser caps it at the display's refresh rate), and benchmark(n): n
      // frames of work (step + draw) back to back, for what the env could do.
      const stamps = [];
      state.benchmark = (n) => {
        const t0 = performance.now();
        for (let k = 0; k < n; k++) { ex.pl_web_step(); ex.pl_web_render(); }
        state.ticks += n;
        return n * 1000 / (performance.now() - t0);
      };
      let shown = -1;
      function frame(now) {
        const t0 = performance.now();
        try {
          for (let k = 0; k < speed; k++)
            if (ex.pl_web_step() < 0) throw new Error(cString(ex.pl_web_error()));
          ex.pl_web_render();
        } catch (e) {  // a trap inside the env: say so, stop playing
          fail("the env stopped at tick " + state.ticks + ": " + (e && e.message ? e.message : e));
          return;
        }
        state.msPerFrame = 0.9 * state.msPerFrame + 0.1 * (performance.now() - t0);
        state.ticks += speed;
        state.frames++;
        stamps.push(now);
        if (stamps.length > 61) stamps.shift();
        if (stamps.length > 1) state.fps = (stamps.length - 1) * 1000 / (now - stamps[0]);
        const finished = ex.pl_web_episodes();
        if (finished !== shown || (ex.pl_web_done() && !state.done)) {
          shown = finished;
          state.result = JSON.parse(cString(ex.pl_web_result()));
          state.done = ex.pl_web_done() === 1;
          state.score = state.result.episodes > 0 ? state.result.score : null;
        }
        state.episodes = finished;
        status.textContent = (policy === "sample" ? "sampled" : policy) + " actions, seed " + seed + " | tick " +
          state.ticks + " | episodes " + finished + " | score " +
          (state.score === null ? "-" : state.score.toFixed(3)) +
          (state.done ? " (mean of the first " + state.result.episodes + " episodes)" : "");
        requestAnimationFrame(frame);
      }
      requestAnimationFrame(frame);
    })().catch((e) => fail(e && e.message ? e.message : String(e)));
    return state;
  }

  // Every element with class "pl-live" and data-wasm / data-weights plays
  // (the docs site's gallery and lessons); the standalone page calls mount itself.
  function mountAll() {
    window.pufferDemos = window.pufferDemos || {};
    for (const el of document.querySelectorAll(".pl-live[data-wasm]")) {
      if (el.dataset.mounted) continue;
      el.dataset.mounted = "1";
      window.pufferDemos[el.dataset.env || el.dataset.wasm] = mount(el, {
        wasm: el.dataset.wasm, weights: el.dataset.weights, seed: el.dataset.seed || 0,
        episodes: el.dataset.episodes || 10, argmax: el.dataset.argmax === "1", speed: el.dataset.speed || 1});
    }
  }

  window.PufferPlayer = {mount, mountAll, fromQuery};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
