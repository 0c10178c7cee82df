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

  // Ask a suggested question (in a refusal or a question back) as if typed: a hidden text box carries it.
  const askQuestion = (text) => {
    const box = document.querySelector("#ask-request textarea, #ask-request input");
    if (!box || !text) return;
    box.value = `${Date.now()}:${text}`;
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
    const ask = event.target.closest("#chat a.ask");
    if (ask) {
      event.preventDefault();
      event.stopPropagation();
      askQuestion(ask.innerText.trim());
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
  // Gradio's own controls with English names, named in Chinese.
  const ENGLISH = { "Scroll down": "滚动到最新消息", "Textbox": "输入框", "Clear": "清空", "Copy": "复制",
                    "Dropdown": "下拉选择", "More tabs": "更多标签页" };
  const relabelGradio = () => {
    document.querySelectorAll("[aria-label], [title]").forEach((el) => {
      const chinese = ENGLISH[el.getAttribute("aria-label")];
      if (chinese) label(el, chinese);
      const tip = ENGLISH[el.getAttribute("title")];
      if (tip) el.setAttribute("title", tip);
    });
    // The rating chosen is marked on its button; say so to a screen reader too.
    document.querySelectorAll("#helpful, #unhelpful").forEach((b) => {
      const pressed = b.innerText.includes("已选") ? "true" : "false";
      if (b.getAttribute("aria-pressed") !== pressed) b.setAttribute("aria-pressed", pressed);
    });
  };

  // A comparison or checklist table stacks into cards on a phone (app.css); each cell carries its column's name.
  const labelCells = () => {
    document.querySelectorAll("#chat table:not([data-labelled])").forEach((table) => {
      const heads = [...table.querySelectorAll("thead th")].map((th) => th.innerText.trim());
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach((tr) => {
        [...tr.children].forEach((td, i) => { if (heads[i]) td.setAttribute("data-label", heads[i]); });
      });
      table.setAttribute("data-labelled", "1");
    });
  };

  // A new answer is read from its start: when a question is added (or a kept conversation comes back), the chat
  // scrolls to put that question at its top, and keeps it there while the answer grows below it, until the reader
  // scrolls. Gradio's autoscroll is off, so nothing pulls the view to the answer's end (its sources and notices).
  let questionsShown = 0;
  let pinned = null;
  const scroller = (el) => {
    let box = el.parentElement;
    while (box && box !== document.body && !/(auto|scroll)/.test(getComputedStyle(box).overflowY)) {
      box = box.parentElement;
    }
    return box && box !== document.body ? box : null;
  };
  const keepQuestionOnTop = () => {
    const asked = document.querySelectorAll('#chat [data-testid="user"]');
    if (asked.length > questionsShown) {
      pinned = asked[asked.length - 1].closest(".message-row") || asked[asked.length - 1];
    }
    questionsShown = asked.length;
    if (!pinned || !pinned.isConnected) { pinned = null; return; }
    const box = scroller(pinned);
    if (!box) return;
    const off = pinned.getBoundingClientRect().top - box.getBoundingClientRect().top;
    if (Math.abs(off) > 2) box.scrollTop += off;
  };
  ["wheel", "touchmove", "keydown"].forEach((type) => document.addEventListener(type, (event) => {
    if (event.target.closest && event.target.closest("#chat")) pinned = null;
  }, { passive: true }));

  new MutationObserver((records) => {
    window.requestAnimationFrame(() => { relabel(); relabelGradio(); labelCells(); keepQuestionOnTop(); });
    if (pending && records.some((r) => r.target.closest && r.target.closest(`#${pending}`))) {
      const panelId = pending;
      pending = "";
      window.requestAnimationFrame(() => showPanel(panelId));
    }
  }).observe(document.documentElement, { subtree: true, childList: true, characterData: true });

  window.policyQA = { showPanel };
})();
