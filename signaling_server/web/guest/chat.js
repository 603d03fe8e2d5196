// The guest's own chat lines: typed in the call screen's input and sent as an in-call `chat` (sender
// "guest") on the control channel of every peer connection the page has — to the resident's kiosk, the
// officer's console and an interpreter, which show it as the family member's (docs/protocol.md "In-call
// messages over extra pairs"). The server never sees the text: it travels peer to peer, like the others'.

const MAX_CHARS = 2000; // incall.Chat.text

function lineId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `g-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export class ChatInput {
  /**
   * @param {object} options
   * @param {HTMLFormElement} options.form  the input and its send button
   * @param {HTMLInputElement} options.input
   * @param {HTMLElement} options.status  says when a line could not be sent
   * @param {(message: object) => number} options.send  sends to every connection; how many took it
   * @param {(text: string) => void} options.echo  the line in the page's own chat, as "you"
   * @param {(key: string) => string} options.label
   */
  constructor({ form, input, status, send, echo, label }) {
    this.input = input;
    this.status = status;
    this.send = send;
    this.echo = echo;
    this.label = label;
    input.maxLength = MAX_CHARS;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  submit() {
    const text = this.input.value.trim().slice(0, MAX_CHARS);
    if (!text) return;
    const sent = this.send({ type: "chat", id: lineId(), text, sender: "guest" });
    if (sent === 0) {
      this.status.textContent = this.label("call.chat_not_sent"); // kept in the input to send again
      this.status.hidden = false;
      return;
    }
    this.status.hidden = true;
    this.input.value = "";
    this.echo(text);
  }
}
