// Small shared helpers for every console page (no framework, no build step).
"use strict";
window.MAAS = (function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  // Calls the JSON API with the session cookie; the CSRF header lets the bridge accept it.
  async function api(path, options) {
    const opts = Object.assign({ method: "GET", headers: {} }, options || {});
    opts.headers = Object.assign({ "X-CSRF-Token": csrf() }, opts.headers);
    opts.credentials = "same-origin";
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    const response = await fetch(path, opts);
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error.message || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;  // never innerHTML: model output is data
    return node;
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-toggle]");
    if (toggle) document.getElementById(toggle.dataset.toggle).classList.toggle("open");
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copy);
      navigator.clipboard.writeText(source.value || source.textContent).then(() => {
        const old = copy.textContent; copy.textContent = "✓"; setTimeout(() => { copy.textContent = old; }, 1200);
      }).catch(() => {
        const range = document.createRange(); range.selectNodeContents(source);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
      });
    }
  });
  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-autosubmit]");
    if (form) form.submit();
  });
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
  return { api, el, csrf };
})();
