// Lumos dashboard: an account's narratives in a modal dialog, read from the insights API.
"use strict";
(function () {
  const dialog = document.getElementById("insight");
  if (!dialog) return;
  const title = document.getElementById("insight-title");
  const body = document.getElementById("insight-body");
  let opener = null;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  async function show(account) {
    title.textContent = "Why: account " + account;
    body.replaceChildren(el("p", "Loading…", "muted"));
    dialog.showModal();
    let data;
    try {
      const response = await fetch("/v1/accounts/" + encodeURIComponent(account) + "/insights");
      data = await response.json();
      if (!response.ok) throw new Error(data.message || response.statusText);
    } catch (err) {
      body.replaceChildren(el("p", "Could not load the narratives: " + err.message, "alert"));
      return;
    }
    const parts = [];
    for (const row of data.rows) {
      const section = el("section");
      const name = row.product ? row.product : "The account";
      const score = row.score === null ? "" : " · score " + row.score.toFixed(3);
      section.append(el("h3", name + " — " + row.class + score));
      const categories = Object.entries(row.narratives);
      if (categories.length === 0) section.append(el("p", "No narrative for this row.", "muted"));
      for (const [category, text] of categories) {
        const p = el("p", undefined, "narrative");
        p.dataset.category = category;
        p.append(el("strong", category.replace(/_/g, " ") + ": "), text);
        section.append(p);
      }
      parts.push(section);
    }
    body.replaceChildren(...parts);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.info");
    if (!button) return;
    opener = button;
    show(button.dataset.account);
  });
  dialog.addEventListener("close", () => { if (opener) opener.focus(); });
})();
