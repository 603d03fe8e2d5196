// The booking page's calls to the server: JSON in and out; a refusal becomes an ApiError with its reason.
export class ApiError extends Error {
  constructor(reason, status, retryAfter) {
    super(reason);
    this.reason = reason;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function answer(response) {
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(data.error || "network", response.status, data.retry_after_s);
  return data;
}

export async function get(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(query ? `${path}?${query}` : path, { credentials: "same-origin" });
  return answer(response);
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return answer(response);
}

// The .ics file: fetched with the PIN in the body (never in a URL), saved through a temporary link.
export async function downloadIcs(pin) {
  const response = await fetch("/api/booking/ics", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ pin }),
  });
  if (!response.ok) throw new ApiError("network", response.status);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  link.download = match ? match[1] : "madoguchi.ics";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}
