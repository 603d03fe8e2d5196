// The public booking page: procedure → date → time → name and contact → confirmation (PIN, QR, .ics), and
// view, cancel or move (reschedule.js) with the PIN. State lives in one object; every text goes in through
// textContent.
import { ApiError, downloadIcs, get, post } from "./api.js";
import { LANGUAGES, TEXT } from "./i18n.js";
import { setupReschedule } from "./reschedule.js";

const STEPS = ["procedure", "date", "time", "details", "review"];
const state = {
  lang: "ja",
  city: null,
  departments: [],
  department: null, // {id, name_ja, name_en}
  procedure: null, // {id, name_ja, name_en} or null for "other"
  day: null,
  slot: null, // {start, time}
  details: { name: "", contact: "", email: "", notes: "" },
  booked: null, // the server's confirmation, with the PIN
  managed: null, // {pin, booking}
  step: "procedure",
};
let reschedule = null; // the reschedule screen (reschedule.js), set up at start

const $ = (id) => document.getElementById(id);
const t = () => TEXT[state.lang];
const en = () => state.lang === "en";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function nameOf(item) {
  return item ? (en() ? item.name_en : item.name_ja) : t().other;
}

function formatDay(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(t().date.locale, { month: "long", day: "numeric", weekday: "short" });
}

function formatStart(seconds) {
  return new Date(seconds * 1000).toLocaleString(t().date.locale, {
    month: "long", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit", hour12: false,
    timeZone: (state.city && state.city.timezone) || "Asia/Tokyo",
  });
}

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    return;
  }
  const reason = error instanceof ApiError ? error.reason : "network";
  const message = t().errors[reason] || t().errors.network;
  box.textContent = typeof message === "function" ? message(error.retryAfter || 60) : message;
  box.hidden = false;
}

function go(step) {
  state.step = step;
  for (const section of document.querySelectorAll("section.step")) {
    section.hidden = section.id !== `step-${step}`;
  }
  document.body.dataset.step = step;
  renderSteps();
  window.scrollTo(0, 0);
}

function renderSteps() {
  const list = $("steps");
  list.replaceChildren();
  const current = state.step === "done" ? STEPS.length : STEPS.indexOf(state.step);
  list.hidden = current < 0;
  t().steps.forEach((label, index) => {
    const item = el("li", label);
    if (index === current) item.setAttribute("aria-current", "step");
    if (index < current) item.className = "done";
    list.append(item);
  });
}

function summary(target, rows) {
  target.replaceChildren();
  for (const [label, value] of rows) {
    target.append(el("dt", label), el("dd", value));
  }
}

function bookingRows(booking) {
  const dep = state.departments.find((d) => d.id === booking.department);
  const proc = dep && dep.procedures.find((p) => p.id === booking.procedure);
  const labels = t().labels;
  return [
    [labels.department, nameOf(dep)],
    [labels.procedure, nameOf(proc)],
    [labels.date, formatStart(booking.slot_start)],
    [labels.name, booking.name],
  ];
}

// ------------------------------------------------------------------ screens

function renderDepartments() {
  const box = $("departments");
  box.replaceChildren();
  for (const dep of state.departments) {
    const group = el("div", undefined, "department");
    group.dataset.department = dep.id;
    group.append(el("h3", nameOf(dep)));
    const choices = el("div", undefined, "grid");
    for (const proc of [...dep.procedures, null]) {
      const button = el("button", nameOf(proc), proc ? "choice" : "choice other");
      button.type = "button";
      button.dataset.procedure = proc ? proc.id : "";
      button.addEventListener("click", () => chooseProcedure(dep, proc));
      choices.append(button);
    }
    group.append(choices);
    box.append(group);
  }
}

async function chooseProcedure(dep, proc) {
  state.department = dep;
  state.procedure = proc;
  showError(null);
  $("chosen-procedure").textContent = `${nameOf(dep)} — ${nameOf(proc)}`;
  try {
    const data = await get("/api/booking/days", { department: dep.id });
    renderDays(data.days);
    go("date");
  } catch (error) {
    showError(error);
  }
}

function renderDays(days) {
  const box = $("days");
  box.replaceChildren();
  $("no-days").hidden = days.length > 0;
  for (const day of days) {
    const button = el("button", formatDay(day), "choice");
    button.type = "button";
    button.dataset.day = day;
    button.addEventListener("click", () => chooseDay(day));
    box.append(button);
  }
}

async function chooseDay(day) {
  state.day = day;
  showError(null);
  $("chosen-date").textContent = formatDay(day);
  try {
    const data = await get("/api/booking/slots", { department: state.department.id, date: day });
    renderTimes(data.slots);
    go("time");
  } catch (error) {
    showError(error);
  }
}

function renderTimes(slots) {
  const box = $("times");
  box.replaceChildren();
  for (const slot of slots) {
    const button = el("button", undefined, "choice time");
    button.type = "button";
    button.dataset.start = String(slot.start);
    button.append(el("span", slot.time, "clock"), el("span", t().free(slot.free), "free"));
    button.addEventListener("click", () => {
      state.slot = slot;
      showError(null);
      go("details");
      $("name").focus();
    });
    box.append(button);
  }
}

function readDetails(event) {
  event.preventDefault();
  state.details = {
    name: $("name").value.trim(),
    contact: $("phone").value.trim(),
    email: $("email").value.trim(),
    notes: $("notes").value.trim(),
  };
  if (!state.details.name || (!state.details.contact && !state.details.email)) {
    showError(new ApiError("bad_input", 400));
    return;
  }
  showError(null);
  const labels = t().labels;
  summary($("summary"), [
    [labels.department, nameOf(state.department)],
    [labels.procedure, nameOf(state.procedure)],
    [labels.date, formatStart(state.slot.start)],
    [labels.name, state.details.name],
    [labels.contact, [state.details.contact, state.details.email].filter(Boolean).join(" / ")],
  ]);
  go("review");
}

async function confirm() {
  const button = $("confirm");
  button.disabled = true;
  try {
    state.booked = await post("/api/booking", {
      department: state.department.id,
      procedure: state.procedure ? state.procedure.id : null,
      slot_start: state.slot.start,
      name: state.details.name,
      contact: state.details.contact,
      email: state.details.email || null,
      notes: state.details.notes,
      language: state.lang,
    });
    showError(null);
    renderDone();
    go("done");
  } catch (error) {
    showError(error);
    if (error instanceof ApiError && ["slot_full", "blocked", "too_soon"].includes(error.reason)) {
      await chooseDay(state.day); // back to the times, refreshed; the message stays
      showError(error);
    }
  } finally {
    button.disabled = false;
  }
}

function renderDone() {
  const booked = state.booked;
  $("pin").textContent = booked.pin.replace(/(\d{3})(\d{3})/, "$1 $2");
  $("qr").src = booked.qr;
  $("qr").alt = `QR: ${booked.pin}`;
  summary($("done-summary"), bookingRows(booked));
}

async function findBooking(event) {
  event.preventDefault();
  const pin = $("manage-pin").value.replace(/\s/g, "");
  try {
    const booking = await post("/api/booking/lookup", { pin });
    state.managed = { pin, booking };
    showError(null);
    renderManaged();
  } catch (error) {
    state.managed = null;
    $("manage-summary").hidden = true;
    $("cancel-booking").hidden = true;
    $("reschedule-booking").hidden = true;
    $("moved").hidden = true;
    showError(error);
  }
}

function renderManaged() {
  const { booking } = state.managed;
  const target = $("manage-summary");
  summary(target, [...bookingRows(booking), [t().labels.state, t().states[booking.state] || booking.state]]);
  target.hidden = false;
  target.dataset.state = booking.state;
  $("cancel-booking").hidden = booking.state !== "booked";
  $("reschedule-booking").hidden = booking.state !== "booked";
}

async function cancelBooking() {
  try {
    const booking = await post("/api/booking/cancel", { pin: state.managed.pin });
    state.managed.booking = booking;
    renderManaged();
    $("moved").hidden = true;
    $("cancelled").hidden = false;
    showError(null);
  } catch (error) {
    showError(error);
  }
}

// ------------------------------------------------------------------ language and start-up

function applyLanguage() {
  document.documentElement.lang = state.lang === "en" ? "en" : "ja";
  document.body.dataset.lang = state.lang;
  for (const node of document.querySelectorAll("[data-text]")) {
    const value = t()[node.dataset.text];
    if (typeof value === "string") node.textContent = value;
  }
  for (const button of document.querySelectorAll("nav.lang button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  }
  document.title = t().title;
  if (state.city) {
    $("city").textContent = en() ? state.city.name_en : state.city.name_ja;
    $("contact").textContent = t().contact(en() ? state.city.name_en : state.city.name_ja, state.city.phone);
  }
  renderDepartments();
  renderSteps();
  if (state.step === "done" && state.booked) renderDone();
  if (state.step === "manage" && state.managed) renderManaged();
  if (reschedule) reschedule.rerender();
}

async function start() {
  const params = new URLSearchParams(location.search);
  state.lang = LANGUAGES.includes(params.get("lang")) ? params.get("lang") : "ja";
  for (const button of document.querySelectorAll("nav.lang button")) {
    button.addEventListener("click", () => {
      state.lang = button.dataset.lang;
      const url = new URL(location.href);
      url.searchParams.set("lang", state.lang);
      history.replaceState(null, "", url);
      applyLanguage();
    });
  }
  for (const button of document.querySelectorAll("[data-back]")) {
    button.addEventListener("click", () => {
      showError(null);
      go(button.dataset.back);
    });
  }
  $("details").addEventListener("submit", readDetails);
  $("confirm").addEventListener("click", confirm);
  $("manage").addEventListener("submit", findBooking);
  $("cancel-booking").addEventListener("click", cancelBooking);
  $("to-manage").addEventListener("click", () => {
    showError(null);
    $("cancelled").hidden = true;
    $("moved").hidden = true;
    go("manage");
  });
  reschedule = setupReschedule({
    state, $, el, t, formatDay, formatStart, showError, go, summary, bookingRows, renderManaged,
  });
  $("download-ics").addEventListener("click", () => downloadIcs(state.booked.pin).catch(showError));
  $("print").addEventListener("click", () => window.print());
  $("again").addEventListener("click", () => {
    state.booked = null;
    go("procedure");
  });
  try {
    const data = await get("/api/booking/departments");
    state.city = data.city;
    state.departments = data.departments;
  } catch (error) {
    showError(error);
  }
  applyLanguage();
  go("procedure");
  document.body.dataset.ready = "1";
}

start();
