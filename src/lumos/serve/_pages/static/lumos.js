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

  function signed(value, digits) {
    return (value > 0 ? "+" : "") + value.toFixed(digits);
  }

  function month(day) {  // "2026-09-01" → "Sep 2026"
    const [year, number] = day.split("-");
    const names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return names[Number(number) - 1] + " " + year;
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
    if (data.name) parts.push(el("p", data.name, "account-name"));
    for (const row of data.rows) {
      const section = el("section");
      const name = row.product ? row.product : "The account";
      section.append(el("h3", name + " — " + row.class));
      const figures = [];
      if (row.predicted_change !== null) {
        const by = row.renewal ? " by " + month(row.renewal) : " by the renewal";
        figures.push("predicted change " + signed(row.predicted_change, 1) + " units" + by);
      }
      if (row.score !== null) figures.push("relative change " + signed(row.score, 3));
      if (row.units !== null && row.units !== undefined) {
        figures.push(row.units.toLocaleString("en-US") + " units now");
      }
      if (figures.length) section.append(el("p", figures.join(" · "), "figures muted"));
      if (row.headline) section.append(el("p", row.headline, "headline"));
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
