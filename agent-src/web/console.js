// The operator console (/): login with a viewer account, the devices it may watch with live
// thumbnails from the snapshot cache, a click opens the player. Admin accounts also get
// disconnect and move. Bundled by agent-src/build.mjs; no inline script (strict CSP).
const app = document.getElementById("app");
const who = document.getElementById("who");
const THUMB_MS = 3000;
let me = null;
let timer = null;

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (me) headers["X-CSRF-Token"] = me.csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const j = await r.json().catch(() => ({}));
  return { status: r.status, body: j };
}

function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function ago(iso) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

function login(msg) {
  clearInterval(timer);
  me = null;
  who.textContent = "";
  const name = el("input", { name: "name", id: "name", autocomplete: "username", required: "" });
  const password = el("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: "" });
  const err = el("p", { class: "error", id: "login-error" }, msg ?? "");
  const form = el("form", { id: "login", class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    const r = await api("POST", "/api/login", { name: name.value, password: password.value });
    if (r.status !== 200) return void (err.textContent = r.body.error ?? `login failed (${r.status})`);
    me = r.body;
    devices();
  } }, el("h2", {}, "Log in"), el("label", {}, "Name", name), el("label", {}, "Password", password), el("button", { type: "submit" }, "Log in"), err);
  app.replaceChildren(form);
  name.focus();
}

async function action(id, what) {
  let body = {};
  if (what === "move") {
    const to = prompt(`Move ${id} to which streamer (host:port)?`);
    if (!to) return;
    body = { streamer: to };
  } else if (!confirm(`Disconnect ${id}? Its agent reconnects by itself.`)) return;
  const r = await api("POST", `/api/devices/${encodeURIComponent(id)}/${what}`, body);
  if (r.status >= 300) alert(r.body.error ?? `failed (${r.status})`);
  refresh();
}

function card(d) {
  const player = `/${encodeURIComponent(d.id)}${me.default_path}/`;
  const thumb = d.state === "online"
    ? el("img", { class: "thumb", alt: `${d.id} snapshot`, src: `/${encodeURIComponent(d.id)}/snapshot.jpg?t=${Date.now()}`, "data-device": d.id })
    : el("div", { class: "thumb none" }, "offline");
  const pathInput = el("input", { class: "path", value: me.default_path, "aria-label": "camera path" });
  const open = el("form", { class: "open", onsubmit: (ev) => {
    ev.preventDefault();
    const p = pathInput.value.startsWith("/") ? pathInput.value : `/${pathInput.value}`;
    location.href = `/${encodeURIComponent(d.id)}${p.replace(/\/+$/, "")}/`;
  } }, pathInput, el("button", { type: "submit" }, "Play"));
  const c = el("article", { class: `device ${d.state}`, id: `dev-${d.id}` },
    el("a", { href: player, class: "thumb-link" }, thumb),
    el("h3", {}, el("a", { href: player, class: "play" }, d.id)),
    el("p", { class: "meta" },
      el("span", { class: `state ${d.state}` }, d.state), ` for ${ago(d.since)} · `,
      el("span", { class: "viewers" }, `${d.viewers} viewer${d.viewers === 1 ? "" : "s"}`), ` · ${bytes(d.bytes)}`),
    open);
  if (me.admin) {
    c.append(el("p", { class: "actions" },
      el("button", { class: "disconnect", onclick: () => action(d.id, "disconnect"), ...(d.state === "online" ? {} : { disabled: "" }) }, "Disconnect"),
      el("button", { class: "move", onclick: () => action(d.id, "move"), ...(d.state === "online" ? {} : { disabled: "" }) }, "Move…")));
  }
  return c;
}

async function refresh() {
  const r = await api("GET", "/api/devices");
  if (r.status === 401) return login("Your session ended; log in again.");
  const list = el("section", { class: "devices", id: "devices" });
  for (const d of r.body.devices ?? []) list.append(card(d));
  if (!list.children.length) list.append(el("p", { class: "muted" }, "No cameras for this account."));
  app.replaceChildren(list);
}

/** Thumbnails refresh in place (the snapshot cache answers; a failed one keeps the old picture). */
function thumbs() {
  for (const img of document.querySelectorAll("img.thumb")) {
    const next = new Image();
    next.onload = () => (img.src = next.src);
    next.src = `/${encodeURIComponent(img.dataset.device)}/snapshot.jpg?t=${Date.now()}`;
  }
}

async function devices() {
  who.replaceChildren(`${me.name}${me.admin ? " (admin)" : ""} `, el("button", { id: "logout", onclick: async () => {
    await api("POST", "/api/logout");
    login();
  } }, "Log out"));
  await refresh();
  clearInterval(timer);
  let n = 0;
  timer = setInterval(() => (++n % 5 === 0 ? refresh() : thumbs()), THUMB_MS);
}

(async () => {
  const r = await api("GET", "/api/me");
  if (r.status !== 200) return login();
  me = r.body;
  devices();
})();
