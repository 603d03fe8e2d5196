// Small DOM helpers shared by the screens. Text is set with textContent only, never innerHTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

export function setText(id, text) {
  $(id).textContent = text;
}

export function show(id, visible = true) {
  $(id).hidden = !visible;
}

/** Show one <section data-screen> and hide the others; focus moves to its heading for screen readers. */
export function showScreen(name) {
  document.body.dataset.screen = name;
  for (const section of document.querySelectorAll("section.screen")) {
    section.hidden = section.dataset.screen !== name;
  }
  const heading = document.querySelector(`section[data-screen="${name}"] h1`);
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

export function banner(text) {
  setText("banner-text", text || "");
  show("banner", Boolean(text));
}
