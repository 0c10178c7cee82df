// The chat page's behaviour that Gradio has no option for. Each handler says why it exists.
(() => {
  const COPY_LABELS = new Set(["复制回答", "複製回答", "Copy message"]);

  // The rendered text of a message: what a reader sees, never the Markdown/HTML source Gradio would copy.
  const shownText = (message) => (message.querySelector(".message-content") || message).innerText.trim();

  // Bring the marked sentence of the clause panel on screen (on a phone the panel is below the chat).
  const showPanel = (panelId) => {
    const panel = document.getElementById(panelId || "clause-panel");
    if (!panel) return;
    const mark = panel.querySelector("mark");
    const box = (mark || panel).getBoundingClientRect();
    // The quoted sentence in the middle of the screen; a clause without one from its top.
    if (mark && (box.top < 0 || box.bottom > window.innerHeight)) mark.scrollIntoView({ block: "center" });
    if (!mark && (box.top < 0 || box.top > window.innerHeight * 0.5)) panel.scrollIntoView({ block: "start" });
  };

  // Ask the server to open citation n of the answer at a turn: a hidden text box carries the request.
  const openCitation = (turn, n) => {
    const box = document.querySelector("#cite-request textarea, #cite-request input");
    if (!box) return;
    box.value = `${turn}-${n}-${Date.now()}`;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  };

  // After a tap on a citation, the panel is brought on screen once the server has filled it (or at once when it
  // already shows that clause).
  let pending = "";
  const expectPanel = (panelId) => {
    pending = panelId || "clause-panel";
    setTimeout(() => { if (pending) { showPanel(pending); pending = ""; } }, 1000);
  };

  document.addEventListener("click", (event) => {
    const chip = event.target.closest("#citations label");
    if (chip) {
      // The chip already chosen sends nothing to the server: the panel already shows its clause.
      const input = chip.querySelector("input");
      if (input && input.checked) setTimeout(() => showPanel("clause-panel"), 50);
      else expectPanel("clause-panel");
    }
    if (event.target.closest("#finder-table .body-cell, #finder-table td")) expectPanel("finder-panel");
    const link = event.target.closest("#chat a.cite");
    if (link) {
      // 【1】 in an answer opens that clause in the panel instead of following a link.
      event.preventDefault();
      event.stopPropagation();
      const m = /#cite-(\d+)-(\d+)/.exec(link.getAttribute("href") || "");
      if (m) { expectPanel("clause-panel"); openCitation(m[1], m[2]); }
      return;
    }
    const button = event.target.closest("#chat button");
    const label = button && (button.getAttribute("aria-label") || button.getAttribute("title"));
    if (button && COPY_LABELS.has(label)) {
      // Gradio copies the message source (<strong>【1】</strong>, \- escapes); copy the text as shown instead.
      // A message's buttons follow its row; the copy button above the chat copies the whole conversation.
      let row = button.closest(".message-buttons");
      while (row && !row.classList.contains("message-row")) row = row.previousElementSibling;
      const message = row && row.querySelector('[data-testid="bot"], [data-testid="user"]');
      const all = [...document.querySelectorAll('#chat [data-testid="bot"], #chat [data-testid="user"]')];
      const text = message ? shownText(message) : all.map(shownText).join("\n\n");
      if (!text) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      navigator.clipboard.writeText(text).then(() => {
        button.setAttribute("data-copied", "1");
        setTimeout(() => button.removeAttribute("data-copied"), 1500);
      });
    }
  }, true);

  // Gradio labels each message with its source text ("bot's message: <a class=…><strong>【1】…"), which screen
  // readers read out tag by tag, and its other labels are English; say what is shown, in Chinese.
  const label = (el, text) => { if (text && el.getAttribute("aria-label") !== text) el.setAttribute("aria-label", text); };
  const relabel = () => {
    document.querySelectorAll('#chat [data-testid="bot"][aria-label]').forEach((m) => label(m, `回答：${shownText(m)}`));
    document.querySelectorAll('#chat [data-testid="user"][aria-label]').forEach((m) => label(m, `提问：${shownText(m)}`));
    document.querySelectorAll('#chat [role="log"]').forEach((log) => label(log, "对话记录"));
    document.querySelectorAll("#chat button.example").forEach((b) => label(b, `示例问题：${b.innerText.trim()}`));
  };
  new MutationObserver((records) => {
    window.requestAnimationFrame(relabel);
    if (pending && records.some((r) => r.target.closest && r.target.closest(`#${pending}`))) {
      const panelId = pending;
      pending = "";
      window.requestAnimationFrame(() => showPanel(panelId));
    }
  }).observe(document.documentElement, { subtree: true, childList: true, characterData: true });

  window.policyQA = { showPanel };
})();
