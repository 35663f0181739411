// Legato console. Plain JavaScript, no build step, no third-party code.
// Every value from the engine is shown with textContent, never parsed as HTML.
"use strict";

(function () {
  const API = "/console/api/";
  const STATUSES = ["succeeded", "failed", "caught", "running", "not-reached"];
  const POLL_MS = 500;
  const main = document.getElementById("main");

  // -- DOM helpers: children are nodes or text, attributes are set one by one.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function link(text, path, params) {
    return el("a", { href: path + "?" + new URLSearchParams(params).toString() }, text);
  }
  function badge(status) { return el("span", { class: "badge " + status, "data-status": status }, status); }
  function when(value) {
    if (value === null || value === undefined || value === "") return "";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(date.getTime()) ? String(value) : date.toISOString().replace("T", " ").replace("Z", " UTC");
  }
  function pretty(text) {
    if (text === null || text === undefined) return "";
    if (typeof text !== "string") return JSON.stringify(text, null, 2);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }
  function pre(text, cls) { return el("pre", { class: cls || "" }, pretty(text)); }
  function table(headers, rows, id) {
    return el("table", { id: id },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
  }
  function showError(where, error) {
    where.appendChild(el("p", { class: "error", role: "alert" }, String(error.message || error)));
  }

  async function api(path, params, body) {
    const url = API + path + (params ? "?" + new URLSearchParams(params).toString() : "");
    const init = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Legato-Console": "1" },
      body: JSON.stringify(body),
    };
    const response = await fetch(url, Object.assign({ credentials: "same-origin" }, init));
    const data = await response.json();
    if (!response.ok) throw new Error((data.error || "Error") + ": " + (data.message || response.status));
    return data;
  }

  // -- the graph: server-drawn SVG, parsed as XML, stripped of anything active.
  function graphNode(svgText) {
    const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    const root = doc.documentElement;
    if (!root || root.nodeName !== "svg") return el("p", { class: "error" }, "The graph could not be drawn.");
    for (const bad of root.querySelectorAll("script, foreignObject, iframe, style, a")) {
      if (bad.nodeName === "a") bad.replaceWith(...bad.childNodes); else bad.remove();
    }
    for (const node of [root, ...root.querySelectorAll("*")]) {
      for (const attr of Array.from(node.attributes)) {
        const name = attr.name.toLowerCase();
        if (name.startsWith("on") || name === "style" || name.endsWith("href")) node.removeAttribute(attr.name);
      }
    }
    return document.importNode(root, true);
  }
  function colour(container, statuses) {
    for (const node of container.querySelectorAll("[data-state]")) {
      const status = statuses[node.getAttribute("data-state")] || "not-reached";
      for (const s of STATUSES) node.classList.remove("status-" + s);
      node.classList.add("status-" + status);
      node.setAttribute("data-status", status);
    }
  }
  function legend() {
    return el("div", { class: "legend" }, STATUSES.map((s) => badge(s)));
  }

  // -- pages
  async function stateMachinesPage() {
    document.title = "State machines · Legato";
    const data = await api("state-machines");
    clear(main).appendChild(el("h1", {}, "State machines"));
    if (!data.stateMachines.length) {
      main.appendChild(el("p", { class: "muted" },
        "No state machines yet: create one with boto3, the AWS CLI or `legato` against this server."));
      return;
    }
    main.appendChild(table(["Name", "Type", "Created", ""], data.stateMachines.map((m) => [
      link(m.name, "/console/state-machine", { arn: m.stateMachineArn }),
      m.type, when(m.creationDate),
      link("executions", "/console/executions", { arn: m.stateMachineArn }),
    ]), "state-machines"));
  }

  async function stateMachinePage(arn) {
    const data = await api("state-machine", { arn: arn });
    const sm = data.stateMachine;
    document.title = sm.name + " · Legato";
    clear(main);
    main.append(
      el("h1", {}, sm.name),
      el("dl", { class: "meta" },
        el("dt", {}, "ARN"), el("dd", {}, sm.stateMachineArn),
        el("dt", {}, "Type"), el("dd", {}, sm.type),
        el("dt", {}, "Status"), el("dd", {}, sm.status || ""),
        el("dt", {}, "Created"), el("dd", {}, when(sm.creationDate))),
      el("p", {}, link("Executions of this state machine", "/console/executions", { arn: sm.stateMachineArn })));
    main.appendChild(startForm(sm));
    const graph = el("div", { class: "graph panel grow", id: "graph" }, graphNode(data.svg));
    main.appendChild(el("div", { class: "row" }, graph,
      el("div", { class: "panel grow" }, el("h2", {}, "Definition"), pre(sm.definition, "json"))));
    main.appendChild(el("h2", {}, "Versions"));
    main.appendChild(data.versions.length ? table(["Version ARN", "Created"], data.versions.map((v) => [
      link(v.stateMachineVersionArn, "/console/state-machine", { arn: v.stateMachineVersionArn }),
      when(v.creationDate)]), "versions") : el("p", { class: "muted" }, "No published versions."));
    main.appendChild(el("h2", {}, "Aliases"));
    main.appendChild(data.aliases.length ? table(["Alias ARN", "Created"], data.aliases.map((a) => [
      a.stateMachineAliasArn, when(a.creationDate)]), "aliases") : el("p", { class: "muted" }, "No aliases."));
  }

  function startForm(sm) {
    const input = el("textarea", { id: "execution-input", spellcheck: "false", "aria-label": "Execution input (JSON)" });
    input.value = "{}";
    const name = el("input", { id: "execution-name", placeholder: "generated when empty", size: 40 });
    const message = el("p", { id: "input-message", class: "muted" }, "Valid JSON.");
    const button = el("button", { id: "start-execution", class: "primary", type: "submit" }, "Start execution");
    function check() {
      try {
        JSON.parse(input.value);
        input.classList.remove("invalid");
        message.className = "muted";
        message.textContent = "Valid JSON.";
        button.disabled = false;
        return true;
      } catch (e) {
        input.classList.add("invalid");
        message.className = "error";
        message.textContent = "Invalid JSON: " + e.message;
        button.disabled = true;
        return false;
      }
    }
    input.addEventListener("input", check);
    const form = el("form", { id: "start-form", class: "panel" },
      el("h2", {}, "Start execution"),
      el("label", {}, "Name", name),
      el("label", {}, "Input (JSON)", input),
      message, button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!check()) return;
      button.disabled = true;
      try {
        const out = await api("executions", undefined, {
          stateMachineArn: sm.stateMachineArn, name: name.value.trim(), input: input.value });
        window.location.assign("/console/execution?" + new URLSearchParams({ arn: out.executionArn }));
      } catch (e) {
        message.className = "error";
        message.textContent = String(e.message);
        button.disabled = false;
      }
    });
    return form;
  }

  async function executionsPage(params) {
    document.title = "Executions · Legato";
    const machines = (await api("state-machines")).stateMachines;
    clear(main).appendChild(el("h1", {}, "Executions"));
    const pick = el("select", { id: "filter-machine", name: "arn" }, el("option", { value: "" }, "all"),
      machines.map((m) => el("option", { value: m.stateMachineArn }, m.name)));
    pick.value = params.get("arn") || "";
    const status = el("select", { id: "filter-status", name: "status" },
      ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].map(
        (s) => el("option", { value: s }, s || "any")));
    status.value = params.get("status") || "";
    const name = el("input", { id: "filter-name", name: "name", placeholder: "contains" });
    name.value = params.get("name") || "";
    const since = el("input", { id: "filter-since", type: "datetime-local", step: "1" });
    const until = el("input", { id: "filter-until", type: "datetime-local", step: "1" });
    const list = el("div", { id: "executions" });
    const form = el("form", { class: "filters", id: "filters" },
      el("label", {}, "State machine", pick), el("label", {}, "Status", status),
      el("label", {}, "Name", name), el("label", {}, "Started after", since),
      el("label", {}, "Started before", until), el("button", { type: "submit" }, "Filter"));
    main.append(form, list);
    async function load() {
      const query = { arn: pick.value, status: status.value, name: name.value.trim() };
      if (since.value) query.since = String(new Date(since.value).getTime() / 1000);
      if (until.value) query.until = String(new Date(until.value).getTime() / 1000);
      for (const key of Object.keys(query)) if (!query[key]) delete query[key];
      history.replaceState(null, "", "/console/executions?" + new URLSearchParams(query));
      clear(list);
      try {
        const data = await api("executions", query);
        list.appendChild(data.executions.length ? table(["Name", "Status", "State machine", "Started", "Stopped"],
          data.executions.map((x) => [
            link(x.name, "/console/execution", { arn: x.executionArn }), badge(x.status),
            x.stateMachineArn.split(":").slice(6).join(":"), when(x.startDate), when(x.stopDate)]),
          "execution-list") : el("p", { class: "muted", id: "execution-list-empty" }, "No executions match."));
      } catch (e) { showError(list, e); }
    }
    form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
    await load();
  }

  async function executionPage(arn) {
    let data = await api("execution", { arn: arn, svg: "1" });
    clear(main);
    const title = el("h1", {}, data.execution.name);
    const status = el("span", { id: "execution-status" });
    const stop = el("button", { id: "stop-execution", class: "danger" }, "Stop execution");
    const redrive = el("button", { id: "redrive-execution" }, "Redrive");
    const notice = el("p", { id: "action-message", class: "muted" });
    const meta = el("dl", { class: "meta", id: "execution-meta" });
    const io = el("div", { class: "side", id: "execution-io" });
    const graph = el("div", { class: "graph panel grow", id: "graph" }, graphNode(data.svg));
    const maps = el("div", { id: "map-progress" });
    const mapRuns = el("div", { id: "map-runs" });
    const visits = el("div", { id: "states" });
    const events = el("div", { id: "events" });
    main.append(title, el("div", { class: "actions" }, status, stop, redrive), notice, meta, legend(),
      el("div", { class: "row" }, graph, io), maps, mapRuns,
      el("h2", {}, "States"), visits, el("h2", {}, "Event history"), events);
    let timer = null;

    async function act(path, button) {
      button.disabled = true;
      try {
        await api(path, undefined, { executionArn: arn });
        notice.className = "muted";
        notice.textContent = path === "stop" ? "Stop requested." : "Redrive started.";
      } catch (e) {
        notice.className = "error";
        notice.textContent = String(e.message);
      }
      await refresh();
    }
    stop.addEventListener("click", () => act("stop", stop));
    redrive.addEventListener("click", () => act("redrive", redrive));

    function draw() {
      const ex = data.execution;
      document.title = ex.name + " (" + ex.status + ") · Legato";
      clear(status).appendChild(badge(ex.status));
      stop.disabled = ex.status !== "RUNNING";
      redrive.disabled = !["FAILED", "TIMED_OUT", "ABORTED"].includes(ex.status);
      clear(meta).append(
        el("dt", {}, "Execution ARN"), el("dd", {}, ex.executionArn),
        el("dt", {}, "State machine"), el("dd", {},
          link(data.stateMachine.name || ex.stateMachineArn, "/console/state-machine", { arn: ex.stateMachineArn })),
        el("dt", {}, "Started"), el("dd", {}, when(ex.startDate)),
        el("dt", {}, "Stopped"), el("dd", {}, when(ex.stopDate)),
        el("dt", {}, "Redrives"), el("dd", {}, String(ex.redriveCount || 0)));
      if (ex.error || ex.cause) meta.append(el("dt", {}, "Error"), el("dd", { class: "error", id: "execution-error" },
        (ex.error || "") + (ex.cause ? ": " + ex.cause : "")));
      clear(io).append(
        el("div", { class: "panel" }, el("h2", {}, "Input"), el("pre", { class: "json", id: "execution-input-view" }, pretty(ex.input))),
        el("div", { class: "panel" }, el("h2", {}, "Output"), el("pre", { class: "json", id: "execution-output-view" }, pretty(ex.output))));
      colour(graph, data.statuses);
      clear(maps);
      if (data.mapProgress.length) {
        maps.append(el("h2", {}, "Map progress"), table(["Map state", "Items", "Progress", "Succeeded", "Failed", "Aborted", "Status"],
          data.mapProgress.map((m) => {
            const done = m.succeeded + m.failed + m.aborted;
            return [m.name, String(m.length), el("progress", { max: m.length || 1, value: done }),
              String(m.succeeded), String(m.failed), String(m.aborted), badge(m.status)];
          }), "map-progress-table"));
      }
      clear(mapRuns);
      if (data.mapRuns.length) {
        mapRuns.append(el("h2", {}, "Map Runs"), table(["Map Run", "Status", "Items", "Child executions"],
          data.mapRuns.map((run) => {
            const counts = run.itemCounts || {};
            return [run.mapRunArn, badge(run.status || ""),
              el("span", {}, (counts.succeeded || 0) + " succeeded / " + (counts.failed || 0) + " failed / " + (counts.total || 0) + " total"),
              el("ul", {}, (run.childExecutions || []).map((c) => el("li", {},
                link(c.name, "/console/execution", { arn: c.executionArn }), " ", badge(c.status))))];
          }), "map-runs-table"));
      }
      clear(visits).appendChild(table(["#", "State", "Type", "Status", "Input", "Output", "Variables", "Error"],
        data.visits.map((v) => [String(v.enteredEventId), v.name, v.type, badge(v.status),
          pre(v.input), pre(v.output), pre(v.variables), v.error ? el("div", { class: "error" },
            el("strong", {}, v.error), v.cause ? pre(v.cause) : null) : ""]), "state-table"));
      clear(events).appendChild(table(["ID", "Type", "Timestamp", "Details"],
        data.events.map((e) => {
          const details = Object.assign({}, e);
          delete details.id; delete details.type; delete details.timestamp; delete details.previousEventId;
          return [String(e.id), e.type, when(e.timestamp), el("details", {}, el("summary", {}, "details"), pre(details))];
        }), "event-table"));
    }

    async function refresh() {
      try {
        data = await api("execution", { arn: arn });
        draw();
      } catch (e) {
        notice.className = "error";
        notice.textContent = String(e.message);
      }
      schedule();
    }
    function schedule() {
      if (timer !== null) clearTimeout(timer);
      timer = data.execution.status === "RUNNING" ? setTimeout(refresh, POLL_MS) : null;
      document.body.setAttribute("data-polling", timer === null ? "no" : "yes");
    }
    draw();
    schedule();
  }

  async function route() {
    const params = new URLSearchParams(window.location.search);
    const path = window.location.pathname.replace(/\/+$/, "");
    try {
      if (path === "/console/state-machine") await stateMachinePage(params.get("arn") || "");
      else if (path === "/console/executions") await executionsPage(params);
      else if (path === "/console/execution") await executionPage(params.get("arn") || "");
      else await stateMachinesPage();
      document.body.setAttribute("data-ready", "yes");
    } catch (e) {
      clear(main);
      showError(main, e);
      document.body.setAttribute("data-ready", "error");
    }
  }
  route();
})();
