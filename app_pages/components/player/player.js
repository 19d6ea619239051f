// The trajectory player: plays what explorer computed (explorer/views/player_wire.py documents the
// data) in the browser and reports clicks. Plotly draws what stays put (the contour, the 3-D
// surface, the curves); canvases laid over the plots draw what moves (points, trailing paths,
// −∇L arrows, the cursor), every animation frame, with no Plotly call and no script run.

const BASE_FPS = 60; // frames a second at 1×
const SWEEP_S = 4; // seconds a parameter sweep takes at 1×
const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 4, 10];
const STRIDES = [1, 2, 5, 10, 20, 50, 100];
const PART_S = 1.5; // seconds a part of an update stays in slow motion at 1×
const ARROW_PX = 90; // the longest arrow of an update's anatomy, in pixels (all share one scale)
const COLORS = ["#ff7f0e", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];
const players = new Map(); // player id -> Player: a remounted player adopts its old DOM
const PLAYING_CLASS = "lle-player-playing"; // on <html> while any player plays (see player.css)
let plotlyLoad = null;

function loadPlotly(src) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoad) {
    plotlyLoad = new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = src;
      tag.onload = () => resolve(window.Plotly);
      tag.onerror = () => {
        plotlyLoad = null;
        reject(new Error(`could not load ${src}`));
      };
      document.head.appendChild(tag);
    });
  }
  return plotlyLoad;
}

// Resolves once the frame being prepared has been painted.
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

// While a player plays, the page's other charts are skipped when off screen: every frame
// re-layers the whole document, and their SVG elements were most of that work.
function markPlaying() {
  const any = [...players.values()].some((p) => p.playing);
  document.documentElement.classList.toggle(PLAYING_CLASS, any);
}

// {"f4": base64 float32, "shape"} -> Float32Array with .shape
function unpack(doc) {
  if (!doc) return null;
  const bin = atob(doc.f4);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const out = new Float32Array(bytes.buffer);
  out.shape = doc.shape;
  return out;
}

// values[i, j] at (alpha[i], beta[j]) -> Plotly's z rows (one per beta), NaN as a gap
function rows(flat, na, nb, offset = 0) {
  const z = [];
  for (let j = 0; j < nb; j++) {
    const row = new Array(na);
    for (let i = 0; i < na; i++) {
      const v = flat[offset + i * nb + j];
      row[i] = Number.isFinite(v) ? v : null;
    }
    z.push(row);
  }
  return z;
}

// Button icons as SVG paths (fonts may lack the media-control glyphs).
const ICONS = {
  play: "M7 4v16l13-8z",
  pause: "M6 4h4v16H6zm8 0h4v16h-4z",
  back: "M6 5h2v14H6zm3 7 10 7V5z",
  forward: "M16 5h2v14h-2zM5 5v14l10-7z",
};

function icon(button, name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  button.replaceChildren(svg);
}

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function fmt(v) {
  if (!Number.isFinite(v)) return "–";
  const text = Math.abs(v) >= 1e-3 || v === 0 ? Number(v).toPrecision(4) : Number(v).toExponential(2);
  return text.replace(/\.?0+(e|$)/, "$1");
}

function extent(arrays, log) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) {
    for (const v of a) {
      if (Number.isFinite(v) && (!log || v > 0)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!Number.isFinite(lo)) return log ? [0, 1] : [0, 1];
  if (log) return [Math.log10(lo) - 0.05, Math.log10(hi) + 0.05];
  const pad = (hi - lo) * 0.05 || Math.abs(lo) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

// A canvas laid over a Plotly graph div, sized to it in device pixels.
function overlay(host) {
  const canvas = el("canvas", { class: "lle-overlay", "aria-hidden": "true" });
  host.appendChild(canvas);
  return canvas;
}

// Clear a canvas for drawing at size [w, h] (CSS pixels); sizes come from a ResizeObserver,
// since reading a size in every frame would force a layout of the whole page.
function fit(canvas, [w, h]) {
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

// Pixel mapping of a 2-D Plotly subplot: {x(v), y(v), box} or null before the first draw.
function axes2d(gd, xname = "xaxis", yname = "yaxis") {
  const full = gd._fullLayout;
  const xa = full && full[xname];
  const ya = full && full[yname];
  if (!xa || !ya || !xa.c2p || !ya.c2p) return null;
  return {
    x: (v) => xa._offset + xa.c2p(v),
    y: (v) => ya._offset + ya.c2p(v),
    box: [xa._offset, ya._offset, xa._length, ya._length],
    p2x: (px) => xa.p2c(px - xa._offset),
    p2y: (py) => ya.p2c(py - ya._offset),
  };
}

// Plotly's own projection of 3-D annotations (data -> screen) for the scene of gd, or null.
function axes3d(gd) {
  const full = gd._fullLayout;
  const scene = full && full.scene && full.scene._scene;
  const cam = scene && scene.glplot && scene.glplot.cameraParams;
  if (!cam || !scene.dataScale) return null;
  const mul = (m, v) => {
    const r = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) r[j] += m[4 * i + j] * v[i];
    return r;
  };
  const ds = scene.dataScale;
  const size = full._size;
  const dom = full.scene.domain;
  const w = size.w * (dom.x[1] - dom.x[0]);
  const h = size.h * (dom.y[1] - dom.y[0]);
  const left = size.l + dom.x[0] * size.w;
  const top = size.t + (1 - dom.y[1]) * size.h;
  return (x, y, z) => {
    const p = mul(cam.projection, mul(cam.view, mul(cam.model, [x * ds[0], y * ds[1], z * ds[2], 1])));
    if (!(p[3] > 0)) return null;
    return [left + 0.5 * (1 + p[0] / p[3]) * w, top + 0.5 * (1 - p[1] / p[3]) * h];
  };
}

// The camera a 3-D graph is drawn with now (a drag writes it into layout.scene.camera).
function camera(gd) {
  const scene = gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene;
  const cam = scene && scene.getCamera ? scene.getCamera() : gd.layout && gd.layout.scene && gd.layout.scene.camera;
  return cam ? JSON.parse(JSON.stringify(cam)) : undefined;
}

// An arrow added to the current path (the caller strokes: many arrows, one stroke).
function arrow(ctx, x0, y0, x1, y1, head) {
  const a = Math.atan2(y1 - y0, x1 - x0);
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(a - 0.45), y1 - head * Math.sin(a - 0.45));
  ctx.moveTo(x1, y1);
  ctx.lineTo(x1 - head * Math.cos(a + 0.45), y1 - head * Math.sin(a + 0.45));
}

function dot(ctx, x, y, r, fill) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = "#000";
  ctx.stroke();
}

class Player {
  constructor() {
    this.frame = 0;
    this.pos = 0;
    this.playing = false;
    this.speed = 1;
    this.stride = 1;
    this.raw = null;
    this.data = null;
    this.raf = 0;
    this.liveUntil = 0;
    this.heavy = { frame: -1 }; // the sweep frame the Plotly surfaces show, by view
    this.resume = false;
    this.slow = false; // slow motion: the parts of one update, one at a time
    this.part = 0; // the part shown in slow motion (0-based)
    this.build();
  }

  build() {
    const root = el("div", { class: "lle-player", "data-testid": "trajectory-player", tabindex: "0" });
    root.setAttribute("data-step", "0");
    root.setAttribute("data-steps", "0");
    root.setAttribute("data-start", "");
    root.setAttribute("data-part", "0");
    root.setAttribute("data-arrows", "0");
    root.setAttribute("role", "group");
    root.setAttribute("aria-label", "Trajectory player");
    this.root = root;
    this.title = el("div", { class: "lle-title" });
    const bar = el("div", { class: "lle-controls" });
    this.back = el("button", { type: "button", "aria-label": "Step back", title: "Step back (←)" });
    this.play = el("button", { type: "button", "aria-label": "Play", title: "Play (space)", class: "lle-play" });
    this.fwd = el("button", { type: "button", "aria-label": "Step forward", title: "Step forward (→)" });
    icon(this.back, "back");
    icon(this.play, "play");
    icon(this.fwd, "forward");
    this.slowBtn = el("button", {
      type: "button", "aria-label": "Slow motion", "aria-pressed": "false", class: "lle-slow",
      title: "Slow motion: the parts of one update, one at a time (Step moves one part)",
    }, "Slow motion");
    this.slowBtn.disabled = true;
    this.scrub = el("input", { type: "range", min: "0", max: "0", step: "1", value: "0", "aria-label": "Step" });
    this.readout = el("span", { class: "lle-readout", "aria-live": "off" });
    const speed = el("label", { class: "lle-field" }, "Speed ");
    this.speedSel = el("select", { "aria-label": "Speed" });
    for (const s of SPEEDS) this.speedSel.appendChild(el("option", { value: String(s) }, `${s}×`));
    this.speedSel.value = "1";
    speed.appendChild(this.speedSel);
    const per = el("label", { class: "lle-field" }, "Steps per frame ");
    this.strideSel = el("select", { "aria-label": "Steps per frame" });
    for (const s of STRIDES) this.strideSel.appendChild(el("option", { value: String(s) }, String(s)));
    per.appendChild(this.strideSel);
    bar.append(this.back, this.play, this.fwd, this.slowBtn, this.scrub, this.readout, speed, per);
    this.note = el("div", { class: "lle-note", "aria-live": "polite" });
    this.partText = el("div", { class: "lle-part", "aria-live": "polite" });
    this.legend = el("div", { class: "lle-legend" });
    this.views = el("div", { class: "lle-views" });
    this.planeHost = el("div", { class: "lle-view lle-plane" });
    this.surfHost = el("div", { class: "lle-view lle-surface" });
    this.chartHost = el("div", { class: "lle-view lle-chart" });
    this.gd = {};
    this.canvas = {};
    for (const [name, host] of [["plane", this.planeHost], ["surface", this.surfHost], ["chart", this.chartHost]]) {
      this.gd[name] = el("div", { class: "lle-graph" });
      host.appendChild(this.gd[name]);
      if (name === "plane") this.canvas.field = overlay(host);
      this.canvas[name] = overlay(host);
      host.dataset.view = name;
    }
    this.sizes = { plane: [0, 0], surface: [0, 0], chart: [0, 0] };
    this.fieldKey = "";
    this.views.append(this.planeHost, this.surfHost, this.chartHost);
    root.append(this.title, bar, this.note, this.partText, this.legend, this.views);

    this.play.addEventListener("click", () => this.toggle());
    this.back.addEventListener("click", () => this.step(-1));
    this.fwd.addEventListener("click", () => this.step(1));
    this.slowBtn.addEventListener("click", () => this.setSlow(!this.slow));
    this.scrub.addEventListener("input", () => this.seek(Number(this.scrub.value)));
    this.speedSel.addEventListener("change", () => { this.speed = Number(this.speedSel.value); });
    this.strideSel.addEventListener("change", () => { this.stride = Number(this.strideSel.value); });
    root.addEventListener("keydown", (e) => this.key(e));
    this.resizer = new ResizeObserver((entries) => {
      for (const e of entries) {
        const view = e.target.dataset.view;
        if (view) this.sizes[view] = [e.contentRect.width, e.contentRect.height];
      }
      this.resize();
    });
    for (const host of [this.planeHost, this.surfHost, this.chartHost]) this.resizer.observe(host);
    this.tick = this.tick.bind(this);
  }

  key(e) {
    const tag = e.target.tagName;
    if (e.key === " " && tag !== "BUTTON" && tag !== "SELECT") {
      e.preventDefault();
      this.toggle();
    } else if ((e.key === "ArrowLeft" || e.key === "ArrowRight") && tag !== "INPUT" && tag !== "SELECT") {
      e.preventDefault();
      this.step(e.key === "ArrowLeft" ? -1 : 1);
    }
  }

  mount(parent, report) {
    this.report = report;
    for (const other of parent.querySelectorAll(":scope > .lle-player")) {
      if (other !== this.root) other.remove(); // an instance given another player's data
    }
    if (this.root.parentNode !== parent) parent.appendChild(this.root);
    this.resize();
  }

  unmount(parent) {
    if (this.root.parentNode === parent) this.setPlaying(false);
  }

  async update(raw, doc) {
    if (raw === this.raw) return;
    this.raw = raw;
    this.root.__lleBytes = raw.length; // read by the browser tests and the benchmark
    this.root.__lleUpdates = (this.root.__lleUpdates || 0) + 1;
    const old = this.data;
    const atEnd = old && this.frame >= old.frames - 1 && old.frames > 1;
    this.data = this.decode(doc);
    const d = this.data;
    this.root.setAttribute("data-steps", String(d.frames));
    this.root.setAttribute("data-start", d.start ? `${d.start[0]},${d.start[1]}` : "");
    this.root.classList.toggle("lle-has-surface", !!d.surface);
    this.root.classList.toggle("lle-curves", !!(d.sweep && d.sweep.curves));
    this.root.classList.toggle("lle-sweep", !!(d.sweep && d.sweep.surfaces));
    this.root.classList.toggle("lle-clickable", !!d.clickable);
    this.title.textContent = d.title || "";
    this.anatomy = this.anatomyOf(d);
    this.slowBtn.disabled = !this.anatomy;
    if (!this.anatomy && this.slow) this.setSlow(false);
    this.drawLegend();
    this.scrub.max = String(Math.max(0, d.frames - 1));
    this.scrub.setAttribute("aria-label", d.sweep ? d.sweep.param : "Step");
    const fresh = !old || old.id !== d.id || old.revision !== d.revision || (d.start && old.start
      && (d.start[0] !== old.start[0] || d.start[1] !== old.start[1]));
    if (!old || old.stride !== d.stride) {
      this.stride = d.stride;
      this.strideSel.value = String(d.stride);
    }
    const follow = d.live && !this.playing && (atEnd || !old || old.frames <= 1);
    const keep = follow || (!fresh && atEnd) ? d.frames - 1 : Math.min(this.frame, d.frames - 1);
    if (fresh) this.starting = "";
    this.seek(fresh && !follow ? 0 : keep);
    this.draw(); // the new paths first: they need no Plotly call, and are painted before it
    await afterPaint();
    if (this.data !== d) return; // a newer update arrived meanwhile
    const Plotly = await loadPlotly(doc.plotly);
    if (this.data !== d) return; // a newer update arrived meanwhile
    const t0 = performance.now();
    // The plane and the surface are redrawn only when what they show changed: a click changes
    // the runs alone, which the canvases draw.
    const key = JSON.stringify([doc.surface, doc.plane, doc.revision, !!doc.sweep, doc.log]);
    await this.plots(Plotly, d, old, key !== this.figureKey);
    this.figureKey = key;
    this.heavy = { frame: -1 };
    this.draw();
    this.root.__lleDrawMs = performance.now() - t0; // the last redraw of the figures
    if (this.resume && fresh) {
      this.resume = false;
      this.setPlaying(true);
    }
  }

  decode(doc) {
    const d = { ...doc };
    if (doc.surface) {
      const s = doc.surface;
      d.surface = {
        alpha: unpack(s.alpha), beta: unpack(s.beta), values: unpack(s.values), z_label: s.z_label,
        field: { alpha: unpack(s.field.alpha), beta: unpack(s.field.beta), u: unpack(s.field.u), v: unpack(s.field.v) },
      };
    }
    d.runs = doc.runs.map((r) => ({
      name: r.name, step: unpack(r.step), alpha: unpack(r.alpha), beta: unpack(r.beta),
      height: unpack(r.height), loss: unpack(r.loss), grad_norm: unpack(r.grad_norm),
      extras: r.extras.map((e) => ({ ...e, values: e.kind === "text" || e.kind === "parts" ? e.values : unpack(e.values) })),
    }));
    if (doc.sweep) {
      const w = doc.sweep;
      d.sweep = { param: w.param, values: unpack(w.values), surfaces: unpack(w.surfaces), u: unpack(w.u), v: unpack(w.v) };
      if (w.curves) {
        const c = w.curves;
        d.sweep.curves = {
          x: unpack(c.x), value: unpack(c.value), grad: unpack(c.grad), x_label: c.x_label,
          fixed: c.fixed && { name: c.fixed.name, value: unpack(c.fixed.value), grad: unpack(c.fixed.grad) },
        };
      }
    }
    return d;
  }

  // Plotly figures of what stays put; uirevision keeps zoom and camera while the plane is the same.
  async plots(Plotly, d, old, figures) {
    const config = { displaylogo: false, responsive: true };
    const font = { size: 11 };
    const s = d.surface;
    const plane = this.gd.plane;
    if (figures && (!d.sweep || !d.sweep.curves)) {
      const traces = [];
      if (s) {
        traces.push({
          type: "contour", x: Array.from(s.alpha), y: Array.from(s.beta),
          z: rows(this.surfaceValues(d), s.alpha.length, s.beta.length), colorscale: "Viridis",
          ncontours: 20, line: { width: 0.5, color: "rgba(255,255,255,0.4)" },
          colorbar: { title: { text: s.z_label, side: "right" }, thickness: 12 },
          hovertemplate: "%{x:.3g}, %{y:.3g}<br>%{z:.4g}<extra></extra>",
        });
      }
      const same = old && old.revision === d.revision && plane.layout;
      const zoom = (axis, range) => (same && plane.layout[axis] ? plane.layout[axis].range : range);
      plane.style.height = "420px"; // responsive graphs take their height from their div
      await Plotly.react(plane, traces, {
        uirevision: d.revision, font, height: 420, margin: { l: 55, r: 10, t: 10, b: 45 },
        xaxis: { title: { text: d.plane.labels[0] }, range: zoom("xaxis", d.plane.alpha_range), zeroline: false },
        yaxis: { title: { text: d.plane.labels[1] }, range: zoom("yaxis", d.plane.beta_range), zeroline: false },
        hovermode: "closest", showlegend: false,
      }, config);
      if (!plane.__lleEvents) {
        plane.__lleEvents = true;
        plane.on("plotly_click", (ev) => this.clicked(ev, "contour"));
        plane.on("plotly_relayout", () => this.kick(200));
        plane.on("plotly_relayouting", () => this.kick(200));
      }
    }
    if (figures && s) {
      const surf = this.gd.surface;
      surf.style.height = "420px";
      await Plotly.react(surf, [{
        type: "surface", x: Array.from(s.alpha), y: Array.from(s.beta),
        z: rows(this.surfaceValues(d), s.alpha.length, s.beta.length), colorscale: "Viridis",
        showscale: false, hovertemplate: "%{x:.3g}, %{y:.3g}<br>%{z:.4g}<extra></extra>",
      }], {
        uirevision: d.revision, font, height: 420, margin: { l: 0, r: 0, t: 0, b: 0 },
        scene: {
          xaxis: { title: { text: d.plane.labels[0] } }, yaxis: { title: { text: d.plane.labels[1] } },
          zaxis: { title: { text: d.log ? "log L" : "L" } }, aspectmode: "cube",
          camera: old && old.revision === d.revision ? camera(surf) : undefined,
        },
      }, config);
      if (!surf.__lleEvents) {
        surf.__lleEvents = true;
        // Plotly emits a 3-D click while a render sees the button down: during a drag of the
        // camera too, and for a quick press maybe never. So the start is taken when the button
        // comes up without the pointer having moved: the point clicked, or else the last hover.
        surf.on("plotly_click", (ev) => {
          if (!this.press3d) this.clicked(ev, "surface");
          else if (!this.press3d.point) this.press3d.point = ev;
        });
        surf.on("plotly_hover", (ev) => { this.hover3d = ev; });
        surf.on("plotly_unhover", () => { this.hover3d = null; });
        surf.on("plotly_relayout", () => this.kick(300));
        surf.on("plotly_relayouting", () => this.kick(300));
        surf.addEventListener("pointerdown", (e) => {
          this.press3d = { x: e.clientX, y: e.clientY, point: null };
          this.kick(60000);
        });
        surf.addEventListener("pointerup", (e) => {
          const p = this.press3d;
          this.press3d = null;
          const still = p && Math.hypot(e.clientX - p.x, e.clientY - p.y) < 5;
          if (still && (p.point || this.hover3d)) this.clicked(p.point || this.hover3d, "surface");
          this.liveUntil = 0; // the drag (if any) is over: 300 ms more for its relayout
          this.kick(300);
        });
        surf.addEventListener("wheel", () => this.kick(500), { passive: true });
      }
    }
    const [traces, layout] = this.chartFigure(d);
    this.gd.chart.style.height = `${layout.height}px`;
    await Plotly.react(this.gd.chart, traces, layout, config);
  }

  chartFigure(d) {
    const font = { size: 11 };
    const layout = {
      uirevision: `${d.id}-chart`, font, height: 260, margin: { l: 55, r: 10, t: 10, b: 40 },
      showlegend: d.runs.length > 1 || !!(d.sweep && d.sweep.curves), legend: { orientation: "h", y: 1.12 },
      grid: { rows: 2, columns: 1, pattern: "independent", roworder: "top to bottom" },
    };
    const traces = [];
    const c = d.sweep && d.sweep.curves;
    if (c) {
      layout.xaxis = { matches: "x2", showticklabels: false };
      layout.xaxis2 = { title: { text: c.x_label } };
      layout.yaxis = { title: { text: "L" }, range: extent([c.value, c.fixed ? c.fixed.value : []]) };
      layout.yaxis2 = { title: { text: "dL/dx" }, range: extent([c.grad, c.fixed ? c.fixed.grad : []]) };
      layout.height = 380;
      if (c.fixed) {
        const x = Array.from(c.x);
        traces.push({ x, y: Array.from(c.fixed.value), name: c.fixed.name, line: { color: "#555", dash: "dot" } });
        traces.push({ x, y: Array.from(c.fixed.grad), name: c.fixed.name, xaxis: "x2", yaxis: "y2", showlegend: false, line: { color: "#555", dash: "dot" } });
      }
      traces.push({ x: [null], y: [null], name: `${d.sweep.param} sweep`, line: { color: COLORS[0] } });
      return [traces, layout];
    }
    if (!d.surface) layout.height = 420; // beside the plane, as tall as it
    const logL = d.chart.log_loss;
    const logG = d.chart.log_grad;
    layout.xaxis = { matches: "x2", showticklabels: false };
    layout.xaxis2 = { title: { text: "step" } };
    const scale = (log, key) => {
      if (!log) return { type: "linear" };
      const [lo, hi] = extent(d.runs.map((r) => r[key]), true);
      return { type: "log", dtick: Math.max(1, Math.ceil((hi - lo) / 4)), exponentformat: "power" };
    };
    layout.yaxis = { title: { text: "loss" }, ...scale(logL, "loss") };
    layout.yaxis2 = { title: { text: "‖∇L‖" }, ...scale(logG, "grad_norm") };
    d.runs.forEach((r, k) => {
      const x = Array.from(r.step);
      const color = COLORS[k % COLORS.length];
      traces.push({ x, y: Array.from(r.loss), name: r.name, line: { color, width: 1.5 } });
      traces.push({ x, y: Array.from(r.grad_norm), name: r.name, xaxis: "x2", yaxis: "y2", showlegend: false, line: { color, width: 1.5 } });
      for (const e of r.extras.filter((e) => e.kind === "series")) {
        traces.push({ x, y: Array.from(e.values), name: `${r.name}: ${e.name}`, line: { color, dash: "dash", width: 1 } });
      }
    });
    return [traces, layout];
  }

  surfaceValues(d, frame = this.frame) {
    const s = d.surface;
    const w = d.sweep;
    if (w && w.surfaces) {
      const n = s.alpha.length * s.beta.length;
      return w.surfaces.subarray(frame * n, (frame + 1) * n);
    }
    return s.values;
  }

  clicked(ev, source) {
    const d = this.data;
    if (!d || !d.clickable || !this.report) return;
    let alpha;
    let beta;
    if (source === "contour") {
      const m = axes2d(this.gd.plane);
      const box = this.gd.plane.getBoundingClientRect();
      if (!m || !ev.event) return;
      alpha = m.p2x(ev.event.clientX - box.left);
      beta = m.p2y(ev.event.clientY - box.top);
    } else {
      const pt = ev.points && ev.points[0];
      if (!pt || pt.data.type !== "surface") return;
      alpha = pt.x;
      beta = pt.y;
    }
    if (!Number.isFinite(alpha) || !Number.isFinite(beta)) return;
    this.resume = true;
    this.starting = `Starting at (${fmt(alpha)}, ${fmt(beta)})…`; // until the new run arrives
    this.note.textContent = this.starting;
    this.report("start", { alpha, beta, source });
  }

  // Controls
  toggle() { this.setPlaying(!this.playing); }

  setPlaying(on) {
    const d = this.data;
    on = on && !!d && d.frames > 1;
    if (on && this.frame >= d.frames - 1) this.seek(0);
    this.playing = on;
    icon(this.play, on ? "pause" : "play");
    this.play.setAttribute("aria-label", on ? "Pause" : "Play");
    this.play.title = on ? "Pause (space)" : "Play (space)";
    this.pos = this.frame;
    this.last = performance.now();
    markPlaying();
    if (on) this.kick();
  }

  step(delta) {
    this.setPlaying(false);
    if (this.slow) this.stepPart(delta);
    else this.seek(this.frame + delta);
  }

  // The main run's anatomy: {parts (the "parts" extra), vectors}, or null when it has none.
  anatomyOf(d) {
    const r = d.runs[0];
    const parts = r && !d.sweep && r.extras.find((e) => e.kind === "parts");
    if (!parts) return null;
    return { parts, vectors: r.extras.filter((e) => e.kind === "vector") };
  }

  hasParts(f) {
    const rows = this.anatomy && this.anatomy.parts.values;
    return !!(rows && rows[f] && rows[f].some((t) => t));
  }

  setSlow(on) {
    this.slow = on && !!this.anatomy;
    this.slowBtn.setAttribute("aria-pressed", String(this.slow));
    this.slowBtn.classList.toggle("lle-on", this.slow);
    this.part = 0;
    this.partPos = 0;
    if (this.slow && !this.hasParts(this.frame)) this.seek(this.nextWithParts(this.frame, 1) ?? this.frame);
    this.kick();
  }

  // The next frame from f (direction dir) whose update has parts, or null.
  nextWithParts(f, dir) {
    const n = this.data ? this.data.frames : 0;
    for (let g = f + dir; g >= 0 && g < n; g += dir) if (this.hasParts(g)) return g;
    return null;
  }

  // One part on (or back); past the last part, the next update's first (and back).
  stepPart(delta) {
    const count = this.anatomy.parts.labels.length;
    const p = this.part + delta;
    if (p >= 0 && p < count && this.hasParts(this.frame)) {
      this.part = p;
      this.kick();
      return true;
    }
    const g = this.nextWithParts(this.frame, delta > 0 ? 1 : -1);
    if (g === null) return false;
    this.seek(g);
    this.part = delta > 0 ? 0 : count - 1;
    this.kick();
    return true;
  }

  seek(frame) {
    const d = this.data;
    const n = d ? d.frames : 0;
    this.frame = Math.max(0, Math.min(n - 1, Math.round(frame) || 0));
    if (!this.playing) this.pos = this.frame;
    this.root.setAttribute("data-step", String(this.frame));
    this.scrub.value = String(this.frame);
    this.kick();
  }

  // data-part (the part shown in slow motion, 0 outside it) follows each change at once, not at
  // the next frame's draw.
  markPart() {
    this.root.setAttribute("data-part", this.slow ? String(this.part + 1) : "0");
  }

  kick(ms = 0) {
    this.markPart();
    this.liveUntil = Math.max(this.liveUntil, performance.now() + ms);
    if (!this.raf) this.raf = requestAnimationFrame(this.tick);
  }

  tick(now) {
    this.raf = 0;
    const d = this.data;
    if (this.playing && d && this.slow) {
      const dt = Math.min(0.25, Math.max(0, now - this.last) / 1000);
      this.last = now;
      this.partPos = (this.partPos || 0) + (dt * this.speed) / PART_S;
      if (this.partPos >= 1) {
        this.partPos = 0;
        if (!this.stepPart(1)) this.setPlaying(false);
      }
    } else if (this.playing && d) {
      const dt = Math.min(0.25, Math.max(0, now - this.last) / 1000);
      this.last = now;
      const base = d.sweep ? d.frames / SWEEP_S : BASE_FPS; // a sweep plays in SWEEP_S at 1×
      this.pos += dt * base * this.speed * this.stride;
      const end = d.frames - 1;
      if (this.pos >= end) this.pos = end;
      this.seek(Math.floor(this.pos));
      if (this.pos >= end) this.setPlaying(false);
    }
    const t0 = performance.now();
    this.draw();
    const cost = this.root.__lleFrameCost || (this.root.__lleFrameCost = { frames: 0, ms: 0, worst: 0 });
    const ms = performance.now() - t0; // read by the benchmark: what a frame's drawing costs
    cost.frames++;
    cost.ms += ms;
    cost.worst = Math.max(cost.worst, ms);
    const behind = d && d.sweep && d.sweep.surfaces && this.heavy.frame !== this.frame;
    if ((this.playing || behind || now < this.liveUntil) && !this.raf) this.raf = requestAnimationFrame(this.tick);
  }

  resize() {
    if (!this.data || !window.Plotly) return;
    for (const gd of Object.values(this.gd)) {
      if (gd._fullLayout && gd.offsetParent !== null) window.Plotly.Plots.resize(gd).catch(() => {});
    }
    this.kick(100);
  }

  // Drawing: every frame, canvases only (a parameter sweep also restyles its surfaces, at the
  // rate they can be redrawn).
  draw() {
    const d = this.data;
    if (!d) return;
    const f = this.frame;
    const readout = this.label(d, f);
    if (this.readout.textContent !== readout) this.readout.textContent = readout;
    this.narrate(d, f);
    this.drawPlane(d, f);
    this.drawSurface(d, f);
    this.drawChart(d, f);
    this.sweepSurfaces(d, f);
  }

  label(d, f) {
    if (d.sweep) return `${d.sweep.param} = ${fmt(d.sweep.values[f])} (${f + 1} / ${d.frames})`;
    const r = d.runs[0];
    if (!r || !r.step.length) return "no path";
    const i = Math.min(f, r.step.length - 1);
    return `step ${r.step[i]} / ${r.step[r.step.length - 1]} · loss ${fmt(r.loss[i])} · ‖∇L‖ ${fmt(r.grad_norm[i])}`;
  }

  narrate(d, f) {
    const a = this.anatomy;
    const row = a && a.parts.values[Math.min(f, a.parts.values.length - 1)];
    let said = "";
    if (row && this.slow && row[this.part]) {
      said = `Part ${this.part + 1} of ${row.length} · ${a.parts.labels[this.part]}: ${row[this.part]}`;
    } else if (row && row[row.length - 1]) {
      said = `Next update: ${row[row.length - 1]}`;
    } else if (this.slow) {
      said = "No parts for this step: step on to an update that has them.";
    }
    if (this.partText.textContent !== said) this.partText.textContent = said;
    this.markPart();
    const parts = [];
    for (const r of d.runs) {
      for (const e of r.extras) {
        if (e.kind === "text") parts.push(`${r.name}: ${e.values[Math.min(f, e.values.length - 1)]}`);
      }
    }
    const text = parts.join(" · ") || (this.playing ? "" : d.hint || "");
    const shown = this.starting || text;
    if (this.note.textContent !== shown) this.note.textContent = shown;
  }

  drawPlane(d, f) {
    const ctx = fit(this.canvas.plane, this.sizes.plane);
    const m = axes2d(this.gd.plane);
    if (!m || (d.sweep && d.sweep.curves)) return;
    if (d.surface) this.drawField(m, d, d.sweep ? f : 0);
    ctx.save();
    ctx.beginPath();
    ctx.rect(...m.box);
    ctx.clip();
    const sweep = !!d.sweep;
    d.runs.forEach((r, k) => {
      const n = r.alpha.length;
      if (!n) return;
      const i = sweep ? n - 1 : Math.min(f, n - 1);
      const color = COLORS[k % COLORS.length];
      ctx.lineWidth = 1.5;
      ctx.setLineDash([3, 3]);
      ctx.strokeStyle = "rgba(255,255,255,0.7)";
      this.polyline(ctx, (j) => [m.x(r.alpha[j]), m.y(r.beta[j])], 0, n - 1);
      ctx.setLineDash([]);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = color;
      this.polyline(ctx, (j) => [m.x(r.alpha[j]), m.y(r.beta[j])], 0, i);
      dot(ctx, m.x(r.alpha[0]), m.y(r.beta[0]), 5, "#2ca02c");
      const drawn = this.vectors(ctx, m, r, i, k === 0 && this.slow ? this.part + 1 : Infinity);
      if (k === 0) this.root.setAttribute("data-arrows", String(drawn));
      dot(ctx, m.x(r.alpha[i]), m.y(r.beta[i]), 6.5, color);
    });
    ctx.restore();
  }

  // A run's vector extras at point i, magnified together so that the longest is ARROW_PX long;
  // a vector with a tail starts at the tip of that one. Only those of parts up to `upto` (slow
  // motion) are drawn. Returns how many were drawn.
  vectors(ctx, m, r, i, upto) {
    const vs = r.extras.filter((e) => e.kind === "vector");
    const sx = m.x(1) - m.x(0);
    const sy = m.y(1) - m.y(0);
    let big = 0;
    for (const e of vs) {
      const len = Math.hypot(e.values[2 * i] * sx, e.values[2 * i + 1] * sy);
      if (Number.isFinite(len)) big = Math.max(big, len);
    }
    if (!(big > 0)) return 0;
    const scale = ARROW_PX / big;
    const tips = {};
    const shown = [];
    for (const e of vs) {
      const du = e.values[2 * i] * sx * scale;
      const dv = e.values[2 * i + 1] * sy * scale;
      if (!Number.isFinite(du) || !Number.isFinite(dv)) continue;
      const [x0, y0] = tips[e.tail] || [m.x(r.alpha[i]), m.y(r.beta[i])];
      tips[e.name] = [x0 + du, y0 + dv];
      if ((e.part || 0) <= upto) shown.push([e, x0, y0, du, dv]);
    }
    // the sum (no tail, drawn last in the data) goes under the parts it is the sum of
    for (const [e, x0, y0, du, dv] of shown.reverse()) {
      const under = !e.tail && shown.length > 1 && e === shown[0][0];
      const widths = under ? [8, 5] : [4.5, 2.5];
      for (const [width, style] of [[widths[0], "rgba(255,255,255,0.9)"], [widths[1], e.color || "#fff"]]) {
        ctx.lineWidth = width;
        ctx.strokeStyle = style;
        ctx.beginPath();
        arrow(ctx, x0, y0, x0 + du, y0 + dv, under ? 12 : 9);
        ctx.stroke();
      }
    }
    return shown.length;
  }

  drawLegend() {
    const a = this.anatomy;
    this.legend.replaceChildren();
    if (!a) return;
    for (const e of a.vectors) {
      const item = el("span", { class: "lle-key" });
      const swatch = el("span", { class: "lle-swatch" });
      swatch.style.background = e.color || "#fff";
      item.append(swatch, document.createTextNode(e.name));
      this.legend.appendChild(item);
    }
    this.legend.appendChild(el("span", { class: "lle-key" }, "(arrows magnified to one scale per step; they add up tip to tail)"));
  }

  // The −∇L arrows, on their own canvas: redrawn only when the frame's field, zoom or size change.
  drawField(m, d, f) {
    const key = `${this.raw.length}|${f}|${m.box}|${m.x(0)}|${m.y(0)}|${m.x(1)}|${m.y(1)}|${this.sizes.plane}`;
    if (key === this.fieldKey) return;
    this.fieldKey = key;
    const ctx = fit(this.canvas.field, this.sizes.plane);
    ctx.save();
    ctx.beginPath();
    ctx.rect(...m.box);
    ctx.clip();
    this.arrows(ctx, m, d, f);
    ctx.restore();
  }

  arrows(ctx, m, d, f) {
    const fl = d.surface.field;
    const w = d.sweep;
    const na = fl.alpha.length;
    const nb = fl.beta.length;
    const off = w && w.u ? f * na * nb : 0;
    const u = w && w.u ? w.u : fl.u;
    const v = w && w.v ? w.v : fl.v;
    const cell = Math.min(Math.abs(m.x(fl.alpha[1]) - m.x(fl.alpha[0])), Math.abs(m.y(fl.beta[1]) - m.y(fl.beta[0])));
    let big = 0; // the longest arrow of every frame: lengths compare across a sweep
    for (let k = 0; k < u.length; k++) {
      const px = u[k] * (m.x(1) - m.x(0));
      const py = v[k] * (m.y(1) - m.y(0));
      const len = Math.hypot(px, py);
      if (Number.isFinite(len)) big = Math.max(big, len);
    }
    if (!(big > 0)) return;
    const scale = (0.9 * cell) / big;
    ctx.strokeStyle = "rgba(255,255,255,0.85)";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    for (let i = 0; i < na; i++) {
      for (let j = 0; j < nb; j++) {
        const k = off + i * nb + j;
        const px = u[k] * (m.x(1) - m.x(0)) * scale;
        const py = v[k] * (m.y(1) - m.y(0)) * scale;
        if (!Number.isFinite(px) || !Number.isFinite(py) || Math.hypot(px, py) < 0.5) continue;
        const x0 = m.x(fl.alpha[i]);
        const y0 = m.y(fl.beta[j]);
        arrow(ctx, x0, y0, x0 + px, y0 + py, Math.min(5, 0.4 * Math.hypot(px, py)));
      }
    }
    ctx.stroke();
  }

  polyline(ctx, at, from, to) {
    ctx.beginPath();
    let open = false;
    for (let j = from; j <= to; j++) {
      const p = at(j);
      if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) { open = false; continue; }
      if (open) ctx.lineTo(p[0], p[1]);
      else ctx.moveTo(p[0], p[1]);
      open = true;
    }
    ctx.stroke();
  }

  drawSurface(d, f) {
    const ctx = fit(this.canvas.surface, this.sizes.surface);
    if (!d.surface || d.sweep) return;
    const project = axes3d(this.gd.surface);
    if (!project) return;
    d.runs.forEach((r, k) => {
      const n = r.alpha.length;
      if (!n) return;
      const i = Math.min(f, n - 1);
      const at = (j) => project(r.alpha[j], r.beta[j], r.height[j]);
      const color = COLORS[k % COLORS.length];
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(255,255,255,0.8)";
      this.polyline(ctx, at, 0, n - 1);
      ctx.lineWidth = 3;
      ctx.strokeStyle = color;
      this.polyline(ctx, at, 0, i);
      const p = at(i);
      if (p) dot(ctx, p[0], p[1], 6, color);
    });
  }

  drawChart(d, f) {
    const ctx = fit(this.canvas.chart, this.sizes.chart);
    const top = axes2d(this.gd.chart, "xaxis", "yaxis");
    const bottom = axes2d(this.gd.chart, "xaxis2", "yaxis2");
    if (!top || !bottom) return;
    const c = d.sweep && d.sweep.curves;
    if (c) {
      const n = c.x.length;
      const off = f * n;
      ctx.lineWidth = 2;
      ctx.strokeStyle = COLORS[0];
      for (const [m, ys] of [[top, c.value], [bottom, c.grad]]) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(...m.box);
        ctx.clip();
        this.polyline(ctx, (j) => [m.x(c.x[j]), m.y(ys[off + j])], 0, n - 1);
        ctx.restore();
      }
      return;
    }
    const r0 = d.runs[0];
    if (!r0 || !r0.step.length) return;
    const x = top.x(r0.step[Math.min(f, r0.step.length - 1)]);
    ctx.strokeStyle = "rgba(0,0,0,0.55)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x, top.box[1]);
    ctx.lineTo(x, bottom.box[1] + bottom.box[3]);
    ctx.stroke();
    d.runs.forEach((r, k) => {
      const i = Math.min(f, r.step.length - 1);
      if (i < 0) return;
      const color = COLORS[k % COLORS.length];
      const xs = top.x(r.step[i]);
      if (Number.isFinite(top.y(r.loss[i]))) dot(ctx, xs, top.y(r.loss[i]), 4, color);
      if (Number.isFinite(bottom.y(r.grad_norm[i]))) dot(ctx, xs, bottom.y(r.grad_norm[i]), 4, color);
    });
  }

  // A sweep's surfaces are Plotly traces: each is restyled at the rate it can be redrawn (its
  // last cost sets the pause before the next), the 3-D one less often; the arrows, drawn on a
  // canvas, follow every frame.
  sweepSurfaces(d, f) {
    const w = d.sweep;
    if (!w || !w.surfaces || !window.Plotly) return;
    const s = d.surface;
    let z = null;
    for (const [name, gap] of [["plane", 2], ["surface", 4]]) {
      const h = this.heavy[name] || (this.heavy[name] = { frame: -1, next: 0 });
      if (h.frame === f || performance.now() < h.next) continue;
      z = z || rows(this.surfaceValues(d, f), s.alpha.length, s.beta.length);
      const t0 = performance.now();
      window.Plotly.restyle(this.gd[name], { z: [z] }, [0]);
      const cost = performance.now() - t0;
      this.heavy[name] = { frame: f, next: performance.now() + gap * cost };
    }
    this.heavy.frame = this.heavy.plane.frame === f && this.heavy.surface.frame === f ? f : -1;
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  if (typeof data !== "string") return undefined;
  const doc = JSON.parse(data);
  let player = players.get(doc.id);
  if (!player) {
    player = new Player();
    players.set(doc.id, player);
  }
  player.mount(parentElement, setTriggerValue);
  player.update(data, doc).catch((err) => {
    player.note.textContent = `The player could not draw: ${err.message}`;
  });
  return () => player.unmount(parentElement);
}
