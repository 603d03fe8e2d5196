// The reschedule screen: after the PIN found a booking, choose another day and time of the same department
// and confirm; a refusal (slot_full, too_soon, blocked …) is shown and the times are fetched again.
import { ApiError, get, post } from "./api.js";

// page: {state, $, el, t, formatDay, formatStart, showError, go, summary, bookingRows, renderManaged}
export function setupReschedule(page) {
  const { state, $ } = page;
  const move = { day: null, slot: null };

  function renderDays(days) {
    const box = $("move-days");
    box.replaceChildren();
    $("move-no-days").hidden = days.length > 0;
    for (const day of days) {
      const button = page.el("button", page.formatDay(day), "choice");
      button.type = "button";
      button.dataset.day = day;
      button.setAttribute("aria-pressed", String(day === move.day));
      button.addEventListener("click", () => chooseDay(day));
      box.append(button);
    }
  }

  function renderTimes(slots) {
    const box = $("move-times");
    box.replaceChildren();
    const current = state.managed.booking.slot_start;
    for (const slot of slots.filter((s) => s.start !== current)) {
      const button = page.el("button", undefined, "choice time");
      button.type = "button";
      button.dataset.start = String(slot.start);
      button.append(page.el("span", slot.time, "clock"), page.el("span", page.t().free(slot.free), "free"));
      button.addEventListener("click", () => chooseTime(slot));
      box.append(button);
    }
    $("move-time-box").hidden = false;
  }

  async function chooseDay(day) {
    move.day = day;
    move.slot = null;
    showReview();
    try {
      const data = await get("/api/booking/slots", { department: state.managed.booking.department, date: day });
      renderTimes(data.slots);
      for (const button of $("move-days").children) {
        button.setAttribute("aria-pressed", String(button.dataset.day === day));
      }
    } catch (error) {
      page.showError(error);
    }
  }

  function chooseTime(slot) {
    move.slot = slot;
    page.showError(null);
    for (const button of $("move-times").children) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.start) === slot.start));
    }
    showReview();
  }

  function showReview() {
    $("move-review").hidden = !move.slot;
    $("move-confirm").hidden = !move.slot;
    if (move.slot) $("move-new").textContent = page.formatStart(move.slot.start);
  }

  async function open() {
    page.showError(null);
    move.day = null;
    move.slot = null;
    page.summary($("move-current"), page.bookingRows(state.managed.booking));
    $("move-time-box").hidden = true;
    showReview();
    try {
      const data = await get("/api/booking/days", { department: state.managed.booking.department });
      renderDays(data.days);
      page.go("move");
    } catch (error) {
      page.showError(error);
    }
  }

  async function confirm() {
    const button = $("move-confirm");
    button.disabled = true;
    try {
      const booking = await post("/api/booking/reschedule", { pin: state.managed.pin, slot_start: move.slot.start });
      state.managed.booking = booking;
      page.go("manage");
      page.renderManaged();
      $("moved").hidden = false;
      page.showError(null);
    } catch (error) {
      page.showError(error);
      if (error instanceof ApiError && move.day) {
        move.slot = null;
        await chooseDay(move.day); // the times again, refreshed; the message stays
        page.showError(error);
      }
    } finally {
      button.disabled = false;
    }
  }

  $("reschedule-booking").addEventListener("click", open);
  $("move-confirm").addEventListener("click", confirm);
  return {
    rerender() {
      if (state.step === "move" && state.managed) {
        page.summary($("move-current"), page.bookingRows(state.managed.booking));
        showReview();
      }
    },
  };
}
