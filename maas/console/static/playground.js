// Playground: streams /v1/chat/completions (SSE) with the session, shows citations and,
// for apps, the agent's trace; keeps a copyable curl/openai snippet of the same request.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const log = $("chat-log");
  let history = [];
  let codeLang = "curl";

  function body() {
    const msgs = [];
    const system = $("system").value.trim();
    if (system) msgs.push({ role: "system", content: system });
    const request = { model: $("model").value, messages: msgs.concat(history) };
    request.temperature = parseFloat($("temperature").value);
    request.max_tokens = parseInt($("max_tokens").value, 10);
    const topP = parseFloat($("top_p").value);
    if (topP < 1) request.top_p = topP;
    const kbs = Array.from(document.querySelectorAll('input[name="kb"]:checked')).map((x) => x.value);
    if (kbs.length) request.knowledge_bases = kbs;
    if ($("stream").checked) { request.stream = true; request.stream_options = { include_usage: true }; }
    return request;
  }

  function renderCode() {
    const sample = body();
    if (!sample.messages.length) sample.messages = [{ role: "user", content: "Hello" }];
    const base = window.location.origin + "/v1";
    if (codeLang === "curl") {
      $("code").textContent = "curl -s" + (sample.stream ? "N" : "") + " " + base + "/chat/completions \\\n" +
        "  -H \"Authorization: Bearer $OPENAI_API_KEY\" -H 'Content-Type: application/json' \\\n" +
        "  -d '" + JSON.stringify(sample).replace(/'/g, "'\\''") + "'";
    } else {
      const extra = sample.knowledge_bases ? ",\n    extra_body={\"knowledge_bases\": " + JSON.stringify(sample.knowledge_bases) + "}" : "";
      $("code").textContent = "from openai import OpenAI\n\nclient = OpenAI(base_url=\"" + base + "\", api_key=\"YOUR_KEY\")\n" +
        "reply = client.chat.completions.create(\n    model=" + JSON.stringify(sample.model) +
        ",\n    messages=" + JSON.stringify(sample.messages) + ",\n    temperature=" + sample.temperature +
        ", max_tokens=" + sample.max_tokens + (sample.stream ? ", stream=True" : "") + extra + ",\n)\n" +
        (sample.stream ? "for chunk in reply:\n    if chunk.choices and chunk.choices[0].delta.content:\n        print(chunk.choices[0].delta.content, end=\"\")\n"
          : "print(reply.choices[0].message.content)\n");
    }
  }

  function bubble(role, text) {
    const empty = $("chat-empty"); if (empty) empty.remove();
    const node = MAAS.el("div", { class: "msg " + role }, text);
    log.appendChild(node); log.scrollTop = log.scrollHeight;
    return node;
  }

  function showCitations(node, citations) {
    if (!citations || !citations.length) return;
    const list = MAAS.el("ol", { class: "cites" });
    citations.forEach((c) => {
      const where = c.document + (c.page ? " p." + c.page : "") + (c.section ? " · " + c.section : "");
      const item = MAAS.el("li", { title: c.snippet || "" }, "[" + c.index + "] " + where);
      list.appendChild(item);
    });
    node.appendChild(list);
  }

  async function showTrace(node, run) {
    try {
      const data = await (await MAAS.api("/v1/apps/" + encodeURIComponent(run.app) + "/runs/" + encodeURIComponent(run.id))).json();
      const box = MAAS.el("details", { class: "trace" });
      box.appendChild(MAAS.el("summary", {}, "Agent trace · " + (data.steps || []).length + " steps · " + data.status));
      (data.steps || []).forEach((step, i) => {
        const label = (i + 1) + ". " + (step.type || step.kind || "step") + (step.tool ? " · " + step.tool : "");
        const detail = JSON.stringify(step.arguments || step.input || step.output || step.content || step, null, 0);
        box.appendChild(MAAS.el("div", {}, label + " — " + detail.slice(0, 300)));
      });
      node.appendChild(box);
    } catch (e) { /* the run's trace is optional decoration */ }
  }

  async function send(event) {
    event.preventDefault();
    const text = $("prompt").value.trim();
    if (!text) return;
    history.push({ role: "user", content: text });
    bubble("user", text);
    $("prompt").value = "";
    const request = body();
    const reply = bubble("assistant", "");
    reply.classList.add("streaming");
    $("send").disabled = true;
    let answer = "", citations = null, run = null;
    try {
      const response = await MAAS.api("/v1/chat/completions", { method: "POST", json: request });
      if (request.stream) {
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
            const line = event.split("\n").find((l) => l.startsWith("data: "));
            if (!line || line === "data: [DONE]") continue;
            const chunk = JSON.parse(line.slice(6));
            if (chunk.error) throw new Error(chunk.error.message);
            if (chunk.citations) citations = chunk.citations;
            if (chunk.app_run) run = chunk.app_run;
            const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
            if (delta && delta.content) { answer += delta.content; reply.textContent = answer; log.scrollTop = log.scrollHeight; }
          }
        }
      } else {
        const data = await response.json();
        answer = data.choices[0].message.content || "";
        citations = data.citations; run = data.app_run;
        reply.textContent = answer;
      }
      history.push({ role: "assistant", content: answer });
      showCitations(reply, citations);
      if (run) await showTrace(reply, run);
      reply.dataset.done = "1";
    } catch (error) {
      reply.classList.add("error");
      reply.textContent = error.message;
      reply.dataset.done = "error";
      history.pop();
    } finally {
      reply.classList.remove("streaming");
      $("send").disabled = false;
      renderCode();
    }
  }

  $("chat-form").addEventListener("submit", send);
  $("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat-form").requestSubmit(); } });
  $("clear").addEventListener("click", () => { history = []; log.replaceChildren(MAAS.el("p", { class: "muted empty", id: "chat-empty" }, $("chat").dataset.empty)); renderCode(); });
  document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => { codeLang = b.dataset.lang; renderCode(); }));
  document.querySelectorAll("#model, #system, #temperature, #max_tokens, #top_p, #stream, input[name=kb]")
    .forEach((x) => x.addEventListener("change", renderCode));
  renderCode();
})();
