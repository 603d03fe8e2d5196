"use strict";
// IT dashboard: the fleet arrives as a "fleet" event on /it/api/events, then "kiosks", "alert" and "action"
// events keep it live. Every piece of data reaches the page through textContent or SVG attributes: never
// innerHTML.
(function () {
  const STATE_LABELS = {
    online: "正常", degraded: "注意", error: "異常", offline: "オフライン", never: "未接続",
  };
  // A kiosk that never connected is a problem too (wrong token, no network, never installed): after the
  // broken and the offline ones, before the merely degraded.
  const STATE_ORDER = { error: 0, offline: 1, never: 2, degraded: 3, online: 4 };
  const CHECK_MARKS = { ok: "✓", warning: "!", error: "✗" };
  const CHECK_LABELS = { ok: "正常", warning: "注意", error: "異常" };
  const BASE_TITLE = document.title;
  const DEVICE_LABELS = {
    camera: "カメラ", microphone: "マイク", mic: "マイク", speaker: "スピーカー", audio: "音声",
    scanner: "スキャナ", printer: "プリンタ", touchscreen: "タッチ画面", display: "画面", network: "ネットワーク",
  };
  const DEVICE_STATUS_LABELS = {
    ok: "正常", degraded: "注意", error: "異常", absent: "未設置", unknown: "不明",
  };
  const ACTION_LABELS = { selftest: "自己診断", restart: "アプリ再起動", reload_config: "設定再読込" };
  const NODE_LABELS = { leader: "リーダー", follower: "フォロワー", draining: "停止準備中", redisDown: "Redis 切断" };
  const SVG_NS = "http://www.w3.org/2000/svg";

  const kiosks = new Map();
  const cards = new Map();
  const actionsById = new Map();
  let alerts = [];
  let recent = [];
  let serverOffset = 0; // server clock minus browser clock, seconds
  const fleetEl = document.getElementById("fleet");
  const template = document.getElementById("kiosk-template");
  const filterEl = document.getElementById("filter");
  const searchEl = document.getElementById("search");

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function now() { return Date.now() / 1000 + serverOffset; }

  function ago(t) {
    if (t === null || t === undefined) return "—";
    const s = Math.max(0, Math.round(now() - t));
    if (s < 60) return s + "秒前";
    if (s < 3600) return Math.floor(s / 60) + "分前";
    if (s < 86400) return Math.floor(s / 3600) + "時間前";
    return Math.floor(s / 86400) + "日前";
  }

  function clock(t) {
    const d = new Date(t * 1000);
    return d.toLocaleString("ja-JP", { hour12: false });
  }

  function num(v, digits) {
    return v === null || v === undefined ? "—" : Number(v).toFixed(digits === undefined ? 0 : digits);
  }

  function sparkline(svg, values, limit) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const pts = values.map((v, i) => [i, v]).filter(([, v]) => v !== null && v !== undefined);
    if (pts.length === 0) return;
    const n = Math.max(values.length - 1, 1);
    const max = Math.max(limit, ...pts.map(([, v]) => v));
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", pts.map(([i, v]) => `${(i / n) * 120},${27 - (v / max) * 25}`).join(" "));
    line.setAttribute("class", pts.some(([, v]) => v > limit) ? "line bad" : "line");
    const threshold = document.createElementNS(SVG_NS, "line");
    const y = 27 - (limit / max) * 25;
    threshold.setAttribute("x1", "0"); threshold.setAttribute("x2", "120");
    threshold.setAttribute("y1", String(y)); threshold.setAttribute("y2", String(y));
    threshold.setAttribute("class", "limit");
    svg.appendChild(threshold);
    svg.appendChild(line);
  }

  function makeCard(id) {
    const card = template.content.firstElementChild.cloneNode(true);
    card.dataset.kioskId = id;
    for (const button of card.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", () => runAction(id, button.dataset.action, card));
    }
    return card;
  }

  function fill(card, k) {
    card.dataset.state = k.state;
    card.className = "kiosk state-" + k.state;
    card.querySelector(".name").textContent = k.name;
    const label = STATE_LABELS[k.state] || k.state;
    card.querySelector(".state").textContent = k.online && !k.connected ? label + "・接続断" : label;
    card.querySelector(".kid").textContent = k.id;
    card.querySelector(".location").textContent = k.location || "";
    const devices = card.querySelector(".devices");
    devices.replaceChildren();
    for (const [name, d] of Object.entries(k.devices || {})) {
      const pill = el("span", "device dev-" + d.status);
      pill.dataset.device = name;
      pill.appendChild(el("span", "dot"));
      pill.appendChild(el("span", "dev-name", DEVICE_LABELS[name] || name));
      const since = d.since ? "(" + ago(d.since) + "から)" : "";
      pill.title = `${name}: ${DEVICE_STATUS_LABELS[d.status] || d.status} ${d.detail || ""} ${since}`.trim();
      devices.appendChild(pill);
    }
    if (!devices.firstChild) devices.appendChild(el("span", "none", "機器情報なし"));
    const seen = card.querySelector(".last-seen");
    seen.dataset.t = k.last_seen === null ? "" : String(k.last_seen);
    seen.textContent = ago(k.last_seen);
    card.querySelector(".version").textContent = k.app_version || "—";
    card.querySelector(".load").textContent =
      `${num(k.cpu_percent)}% / ${num(k.memory_percent)}% / ${num(k.disk_percent)}%`;
    const rtt = card.querySelector(".rtt");
    rtt.textContent = k.rtt_ms === null ? "—" : num(k.rtt_ms, 0) + " ms";
    rtt.classList.toggle("bad", k.rtt_ms !== null && k.rtt_ms > 300);
    sparkline(card.querySelector(".rtt-spark"), k.rtt_history || [], 300);
    sparkline(card.querySelector(".loss-spark"), k.loss_history || [], 5);
    const call = card.querySelector(".call");
    if (k.call_id && k.call_quality) {
      const q = k.call_quality;
      call.textContent = `通話中: RTT ${num(q.rtt_ms)} ms, 損失 ${num(q.loss_in_pct, 1)}/${num(q.loss_out_pct, 1)}%, ` +
        `${num(q.bitrate_in_kbps)}/${num(q.bitrate_out_kbps)} kbps, ${num(q.fps_in)}/${num(q.fps_out)} fps`;
      call.hidden = false;
    } else {
      call.textContent = "";
      call.hidden = true;
    }
    for (const button of card.querySelectorAll("button[data-action]")) {
      button.disabled = !k.connected;
    }
    if (!k.connected) card.classList.add("disconnected");
    const flag = card.querySelector(".flag");
    flag.hidden = !k.never_connected;
    flag.textContent = k.never_connected ? "一度も接続していません（端末の設定とネットワークを確認）" : "";
    card.classList.toggle("never-connected", Boolean(k.never_connected));
    fillSelftest(card.querySelector(".selftest"), k.selftest);
  }

  function checklist(checks) {
    const list = el("ul", "checklist");
    for (const c of checks) {
      const li = el("li", "check check-" + c.status);
      li.dataset.device = c.device;
      li.dataset.status = c.status;
      li.appendChild(el("span", "mark", CHECK_MARKS[c.status] || "?"));
      li.appendChild(el("span", "dev-name", DEVICE_LABELS[c.device] || c.device));
      li.appendChild(el("span", "check-state", CHECK_LABELS[c.status] || c.status));
      li.appendChild(el("span", "check-detail", c.detail));
      li.title = `${c.device}: ${c.detail}`;
      list.appendChild(li);
    }
    return list;
  }

  // The kiosk's last self-test as a checklist (scanner, printer, camera, microphone), or its words.
  function fillSelftest(box, result) {
    box.hidden = !result;
    if (!result) return;
    box.classList.toggle("failed", !result.ok);
    box.querySelector(".selftest-title").textContent = result.ok ? "自己診断: 合格" : "自己診断: 不合格";
    box.querySelector(".selftest-when").textContent = clock(result.at);
    const list = result.checks ? checklist(result.checks) : el("ul", "checklist", result.detail || "");
    box.querySelector(".checklist").replaceWith(list);
  }

  function visible(k) {
    if (filterEl.value === "problems" && k.state === "online") return false;
    const q = searchEl.value.trim().toLowerCase();
    if (!q) return true;
    return [k.id, k.name, k.location].some((s) => (s || "").toLowerCase().includes(q));
  }

  function order(a, b) {
    return (STATE_ORDER[a.state] - STATE_ORDER[b.state]) || a.name.localeCompare(b.name, "ja") ||
      a.id.localeCompare(b.id);
  }

  function layout() {
    const sorted = [...kiosks.values()].sort(order);
    const wanted = [];
    for (const k of sorted) {
      const card = cards.get(k.id);
      card.hidden = !visible(k);
      wanted.push(card);
    }
    // Move only what is out of place, so unchanged cards keep focus and hover.
    let i = 0;
    for (const card of wanted) {
      if (fleetEl.children[i] !== card) fleetEl.insertBefore(card, fleetEl.children[i] || null);
      i += 1;
    }
    summary();
  }

  function summary() {
    const counts = { online: 0, degraded: 0, error: 0, offline: 0, never: 0 };
    for (const k of kiosks.values()) counts[k.state] = (counts[k.state] || 0) + 1;
    for (const [state, n] of Object.entries(counts)) {
      const node = document.getElementById("count-" + state);
      if (node) node.textContent = String(n);
    }
    document.getElementById("count-alerts").textContent = String(alerts.length);
    // The badge counts the open alerts (the list beside the fleet), and so does the tab's title.
    const badge = document.getElementById("alert-badge");
    badge.dataset.count = String(alerts.length);
    document.getElementById("alert-badge-count").textContent = String(alerts.length);
    document.title = alerts.length ? `(${alerts.length}) ${BASE_TITLE}` : BASE_TITLE;
  }

  // Returns true when the card must move (new kiosk, or its state changed the sort order).
  function upsert(k) {
    const old = kiosks.get(k.id);
    kiosks.set(k.id, k);
    let card = cards.get(k.id);
    if (!card) {
      card = makeCard(k.id);
      cards.set(k.id, card);
    }
    fill(card, k);
    return !old || old.state !== k.state || old.name !== k.name;
  }

  function alertItem(a) {
    const li = el("li", "alert sev-" + a.severity + (a.cleared_at ? " cleared" : ""));
    li.dataset.alertId = String(a.id);
    li.dataset.kind = a.kind;
    li.appendChild(el("span", "sev", a.severity === "critical" ? "重大" : "警告"));
    li.appendChild(el("span", "msg", a.message_ja));
    const when = a.cleared_at ? `${clock(a.raised_at)} → 解消 ${clock(a.cleared_at)}` : `${clock(a.raised_at)} から`;
    li.appendChild(el("span", "when", when));
    return li;
  }

  function renderAlerts() {
    const list = document.getElementById("alerts");
    list.replaceChildren(...alerts.map(alertItem));
    if (!alerts.length) list.appendChild(el("li", "empty", "未解決のアラートはありません"));
    document.getElementById("recent").replaceChildren(...recent.slice(0, 30).map(alertItem));
    summary();
  }

  // withChecks: the self-test's checklist too (the card shows its own, in its self-test section).
  function actionItem(a, withChecks = true) {
    const li = el("li", "action");
    li.dataset.actionId = a.id;
    const name = (kiosks.get(a.kiosk_id) || {}).name || a.kiosk_id;
    li.appendChild(el("span", "what", `${name}: ${ACTION_LABELS[a.action] || a.action}`));
    li.appendChild(el("span", "who", `${a.actor} ${clock(a.sent_at)}`));
    let result = "応答待ち…";
    let cls = "pending";
    const checks = a.result && a.result.checks;
    if (a.result) {
      const detail = checks ? "" : a.result.detail;
      result = (a.result.ok ? "成功" : "失敗") + (detail ? ": " + detail : "");
      cls = a.result.ok ? "ok" : "failed";
    }
    li.appendChild(el("span", "result " + cls, result));
    if (checks && withChecks) li.appendChild(checklist(checks));
    return li;
  }

  function renderActions() {
    const sorted = [...actionsById.values()].sort((a, b) => b.sent_at - a.sent_at).slice(0, 30);
    document.getElementById("actions").replaceChildren(...sorted.map((a) => actionItem(a)));
    for (const a of sorted) {
      const card = cards.get(a.kiosk_id);
      if (!card) continue;
      const box = card.querySelector(".action-result");
      const latest = sorted.find((x) => x.kiosk_id === a.kiosk_id);
      if (latest !== a) continue;
      box.replaceChildren(actionItem(a, false));
    }
  }

  // A cluster's nodes (absent on a single node): the leader first, then by id.
  function renderNodes(nodes) {
    const panel = document.getElementById("nodes-panel");
    panel.hidden = !nodes || !nodes.length;
    if (panel.hidden) return;
    const sorted = [...nodes].sort((a, b) => (b.leader ? 1 : 0) - (a.leader ? 1 : 0) || (a.node < b.node ? -1 : 1));
    document.getElementById("nodes").replaceChildren(...sorted.map((n) => {
      const li = el("li", "node" + (n.leader ? " leader" : "") + (n.draining ? " draining" : "") +
        (n.redis === "down" ? " redis-down" : ""));
      li.dataset.node = n.node;
      li.appendChild(el("span", "node-id", n.node));
      let role = n.leader ? NODE_LABELS.leader : NODE_LABELS.follower;
      if (n.draining) role += "・" + NODE_LABELS.draining;
      if (n.redis === "down") role += "・" + NODE_LABELS.redisDown;
      li.appendChild(el("span", "role", role));
      const c = n.connections || {};
      const parts = [
        `接続 ${num(c.local, 0)} + 中継 ${num(c.relayed, 0)}`,
        `メモリ ${n.rss_bytes ? Math.round(n.rss_bytes / 1048576) + " MB" : "—"}`,
        `CPU ${num(n.cpu_percent, 0)}%`,
        `v${n.version || "?"}`,
      ];
      li.appendChild(el("span", "figures", parts.join(" ・ ")));
      return li;
    }));
  }

  async function runAction(id, action, card) {
    const k = kiosks.get(id);
    if (action === "restart" && !window.confirm(`${k ? k.name : id} のアプリを再起動しますか?`)) return;
    const box = card.querySelector(".action-result");
    box.textContent = "送信中…";
    try {
      const response = await fetch(`/it/api/kiosks/${encodeURIComponent(id)}/actions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ action }),
      });
      const data = await response.json();
      if (!response.ok) {
        box.textContent = "送信できません: " + (data.error || response.status);
        return;
      }
      // The kiosk's answer can arrive on the event stream before this response: never overwrite it.
      if (!actionsById.get(data.id)?.result) actionsById.set(data.id, data);
      renderActions();
    } catch (err) {
      box.textContent = "送信できません: " + err;
    }
  }

  function onFleet(data) {
    serverOffset = data.server_time - Date.now() / 1000;
    document.getElementById("city").textContent = data.city ? data.city.name_ja : "";
    document.getElementById("user").textContent = data.user ? data.user + " さん" : "";
    const ids = new Set(data.kiosks.map((k) => k.id));
    for (const id of [...kiosks.keys()]) {
      if (!ids.has(id)) {
        kiosks.delete(id);
        const card = cards.get(id);
        if (card) card.remove();
        cards.delete(id);
      }
    }
    for (const k of data.kiosks) upsert(k);
    alerts = data.alerts;
    recent = data.recent_alerts;
    actionsById.clear();
    for (const a of data.actions) actionsById.set(a.id, a);
    layout();
    renderAlerts();
    renderActions();
    renderNodes(data.nodes);
    document.body.dataset.loaded = "1";
  }

  function onAlert(payload) {
    const a = payload.alert;
    alerts = alerts.filter((x) => x.id !== a.id);
    if (payload.event === "alert_raised") alerts.push(a);
    recent = [a, ...recent.filter((x) => x.id !== a.id)];
    renderAlerts();
  }

  function connect() {
    const live = document.getElementById("live");
    const source = new EventSource("/it/api/events");
    source.addEventListener("fleet", (e) => onFleet(JSON.parse(e.data)));
    source.addEventListener("kiosks", (e) => {
      const started = performance.now();
      let moved = false;
      for (const k of JSON.parse(e.data)) moved = upsert(k) || moved;
      if (moved) layout();
      else summary();
      document.body.dataset.applyMs = (performance.now() - started).toFixed(1);
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    });
    source.addEventListener("alert", (e) => onAlert(JSON.parse(e.data)));
    source.addEventListener("nodes", (e) => renderNodes(JSON.parse(e.data)));
    source.addEventListener("action", (e) => {
      const a = JSON.parse(e.data);
      actionsById.set(a.id, a);
      renderActions();
    });
    source.onopen = () => { live.textContent = "ライブ"; live.className = "live on"; };
    source.onerror = () => {
      live.textContent = "再接続中…";
      live.className = "live off";
      if (source.readyState === EventSource.CLOSED) {
        // Signed out or the session expired: back to the login page.
        fetch("/it/api/fleet", { credentials: "same-origin" }).then((r) => {
          if (r.status === 401) location.href = "/it/login";
          else setTimeout(connect, 3000);
        }, () => setTimeout(connect, 3000));
      }
    };
  }

  filterEl.addEventListener("change", layout);
  searchEl.addEventListener("input", layout);
  setInterval(() => {
    for (const node of document.querySelectorAll(".last-seen")) {
      node.textContent = node.dataset.t ? ago(Number(node.dataset.t)) : "—";
    }
  }, 1000);
  connect();
})();
