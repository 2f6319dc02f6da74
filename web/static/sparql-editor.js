// The query page: a small editor over the <textarea>, the example list, and results rendered in
// place. Without this script the page is a plain form that returns the raw result.
// Anything that came from the server or the store is written with textContent / append(string),
// never parsed as HTML.
(function () {
  "use strict";

  const form = document.getElementById("query-form");
  const editor = document.getElementById("query");
  if (!form || !editor || !window.fetch || !window.URLSearchParams) return;

  const $ = (id) => document.getElementById(id);
  const make = (tag, properties) => Object.assign(document.createElement(tag), properties);
  const [gutter, note, picker, description, runButton] =
    ["gutter", "editor-note", "example", "example-description", "run"].map($);
  const [results, statusLine, truncatedNotice, errorBox, tableBox, downloads, downloadLinks] =
    ["results", "result-status", "result-truncated", "result-error", "result-table", "downloads", "download-links"].map($);

  const { examples, prefixes } = JSON.parse($("page-data").textContent);
  // longest namespace first, so that the most specific prefix wins when shortening an IRI
  const namespaces = Object.entries(prefixes).sort((a, b) => b[1].length - a[1].length);
  const ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9";
  const XSD_STRING = "http://www.w3.org/2001/XMLSchema#string";
  const RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";

  // The plain-form controls give way to the in-page ones.
  document.querySelectorAll(".nojs").forEach((element) => { element.hidden = true; });

  // ------------------------------------------------------------------ editor
  let lineCount = 0;
  let escaped = false; // Esc, then Tab, leaves the editor (no keyboard trap)
  let edited = false;

  function renumber() {
    const lines = editor.value.split("\n").length;
    if (lines !== lineCount) {
      lineCount = lines;
      // one spare line so the gutter can scroll as far as the text when a scrollbar shows
      gutter.textContent = Array.from({ length: lines }, (_, i) => i + 1).join("\n") + "\n ";
    }
    gutter.scrollTop = editor.scrollTop;
  }

  // Replaces from..to with text, through execCommand where it still works because that keeps the
  // browser's undo history; setRangeText is the fallback.
  function replaceRange(text, from, to, selectMode) {
    editor.setSelectionRange(from, to);
    if (!(document.execCommand && document.execCommand("insertText", false, text))) {
      editor.setRangeText(text, from, to, "end");
    }
    if (selectMode === "select") editor.setSelectionRange(from, from + text.length);
    edited = true;
    renumber();
  }

  function indent(outdent) {
    const { value, selectionStart: start, selectionEnd: end } = editor;
    if (!outdent && start === end) {
      replaceRange("  ", start, end, "end");
      return;
    }
    const from = value.lastIndexOf("\n", start - 1) + 1;
    const block = value.slice(from, end);
    const changed = outdent ? block.replace(/^ {1,2}/gm, "") : block.replace(/^(?=.)/gm, "  ");
    replaceRange(changed, from, end, start === end ? "end" : "select");
  }

  function newline() {
    const { value, selectionStart: start } = editor;
    const lineStart = value.lastIndexOf("\n", start - 1) + 1;
    const leading = /^[ \t]*/.exec(value.slice(lineStart, start))[0];
    replaceRange("\n" + leading, start, editor.selectionEnd, "end");
  }

  // Typing "crm:" where the query does not declare crm: adds "PREFIX crm: <…>" after the others.
  function completePrefix() {
    const { value, selectionStart: caret } = editor;
    const lineStart = value.lastIndexOf("\n", caret - 1) + 1;
    const match = /(?:^|[\s(\/^|,;.{}])([A-Za-z][\w-]*):$/.exec(value.slice(lineStart, caret));
    if (!match || !Object.prototype.hasOwnProperty.call(prefixes, match[1])) return;
    const name = match[1];
    if (new RegExp("^\\s*PREFIX\\s+" + name + ":", "im").test(value)) return;
    const declarations = /^(?:\s*(?:PREFIX|BASE)\b[^\n]*\n)+/i.exec(value);
    const at = declarations ? declarations[0].length : 0;
    const declaration = "PREFIX " + name + ": <" + prefixes[name] + ">\n";
    replaceRange(declaration, at, at, "end");
    const back = at <= caret ? caret + declaration.length : caret;
    editor.setSelectionRange(back, back);
    note.textContent = "Added PREFIX " + name + ":";
  }

  editor.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      run();
    } else if (event.key === "Tab" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      if (escaped) { escaped = false; return; }
      event.preventDefault();
      indent(event.shiftKey);
    } else if (event.key === "Enter" && !event.shiftKey && !event.altKey) {
      event.preventDefault();
      newline();
    }
    escaped = event.key === "Escape";
  });
  editor.addEventListener("input", (event) => {
    edited = true;
    note.textContent = "";
    renumber();
    if (event.inputType === "insertText" && event.data === ":") completePrefix();
  });
  editor.addEventListener("scroll", renumber);
  renumber();

  // ------------------------------------------------------------------ examples
  let shown = picker ? picker.value : null;
  if (picker) {
    picker.addEventListener("change", () => {
      const chosen = examples.find((e) => e.name === picker.value);
      if (!chosen) return;
      if (edited && !window.confirm("Replace your query with the example “" + chosen.title + "”?")) {
        picker.value = shown;
        return;
      }
      shown = chosen.name;
      editor.value = chosen.text;
      editor.scrollTop = 0;
      edited = false;
      renumber();
      description.textContent = chosen.description;
      const url = new URL(window.location.href);
      url.searchParams.set("example", chosen.name);
      window.history.replaceState(null, "", url);
    });
  }

  // ------------------------------------------------------------------ results
  function shorten(iri) {
    for (const [name, namespace] of namespaces) {
      if (iri.startsWith(namespace) && /^[\w.-]+$/.test(iri.slice(namespace.length))) {
        return name + ":" + iri.slice(namespace.length);
      }
    }
    return iri;
  }

  function termNode(term) {
    if (term.type === "uri") {
      if (!/^https?:\/\//i.test(term.value)) return document.createTextNode(term.value);
      // http(s) only: a javascript: IRI in the data stays text
      return make("a", { href: term.value, textContent: shorten(term.value), title: term.value });
    }
    if (term.type === "bnode") return document.createTextNode("_:" + term.value);
    const span = make("span", { textContent: String(term.value) });
    const datatype = term.datatype;
    const plain = !datatype || datatype === XSD_STRING || datatype === RDF_LANG_STRING;
    if (term["xml:lang"] || !plain) {
      span.append(make("span", { className: "term-meta", ...(plain ? {} : { title: datatype }),
        textContent: term["xml:lang"] ? "@" + term["xml:lang"] : "^^" + shorten(datatype) }));
    }
    return span;
  }

  function showTable(columns, rows) {
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const column of columns) head.append(make("th", { scope: "col", textContent: column }));
    const body = document.createElement("tbody");
    for (const row of rows) {
      const tr = body.insertRow();
      for (const term of row) {
        const td = tr.insertCell();
        if (term) td.append(termNode(term));
      }
    }
    table.append(body);
    tableBox.replaceChildren(table);
    tableBox.hidden = false;
  }

  function unescapeNTriples(text) {
    return text.replace(/\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))/g, (_, u4, u8, c) =>
      (u4 || u8) ? String.fromCodePoint(parseInt(u4 || u8, 16))
        : ({ t: "\t", n: "\n", r: "\r", b: "\b", f: "\f" }[c] || c));
  }

  const NT_TERM = /<([^>]*)>|_:(\S+)|"((?:[^"\\]|\\.)*)"(?:@([A-Za-z0-9-]+)|\^\^<([^>]*)>)?/g;

  function parseNTriples(text) {
    const rows = [];
    for (const line of text.split("\n")) {
      const terms = [];
      NT_TERM.lastIndex = 0;
      let match;
      while (terms.length < 3 && (match = NT_TERM.exec(line)) !== null) {
        if (match[1] !== undefined) terms.push({ type: "uri", value: unescapeNTriples(match[1]) });
        else if (match[2] !== undefined) terms.push({ type: "bnode", value: match[2] });
        else terms.push({ type: "literal", value: unescapeNTriples(match[3]), "xml:lang": match[4], datatype: match[5] });
      }
      if (terms.length === 3) rows.push(terms);
    }
    return rows;
  }

  // Plain GET links with format=<media type>: the same query, in each format its kind has.
  function showDownloads(query, kind, only) {
    const links = [];
    document.querySelectorAll('#format optgroup[data-kind="' + kind + '"] option').forEach((option) => {
      if (only && !only.test(option.value)) return;
      const url = new URL(form.action, window.location.href);
      url.searchParams.set("query", query);
      url.searchParams.set("format", option.value);
      links.push(make("a", { href: url.href, download: "query-results." + option.dataset.suffix,
        textContent: option.textContent }), " ");
    });
    downloadLinks.replaceChildren(...links);
    downloads.hidden = links.length === 0;
  }

  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

  function reset() {
    results.hidden = false;
    for (const box of [truncatedNotice, errorBox, tableBox, downloads]) box.hidden = true;
    tableBox.replaceChildren();
    errorBox.replaceChildren();
  }

  function showError(heading, detail) {
    errorBox.replaceChildren(make("strong", { textContent: heading }));
    if (detail) errorBox.append(make("pre", { textContent: detail }));
    errorBox.hidden = false;
    statusLine.textContent = "The query failed.";
  }

  function render(response, body, query, elapsed) {
    const type = (response.headers.get("Content-Type") || "").split(";")[0].trim().toLowerCase();
    const header = response.headers.get("Mouseion-Result-Truncated");
    let truncated = header !== null && !/^\s*(false|0|no)\s*$/i.test(header);
    const took = " in " + Math.round(elapsed) + " ms";
    if (type === "application/sparql-results+json" || type === "application/json") {
      const data = JSON.parse(body);
      truncated = truncated || Boolean(data.truncated);
      if (typeof data.boolean === "boolean") {
        statusLine.textContent = "Answer: " + (data.boolean ? "yes" : "no") + took;
        showDownloads(query, "table", /^application\/sparql-results/); // CSV/TSV have no booleans
      } else {
        const columns = (data.head && data.head.vars) || [];
        const bindings = (data.results && data.results.bindings) || [];
        showTable(columns, bindings.map((b) => columns.map((c) => b[c])));
        statusLine.textContent = plural(bindings.length, "row") + took;
        showDownloads(query, "table");
      }
    } else if (type === "application/n-triples" || type === "text/plain") {
      const triples = parseNTriples(body);
      showTable(["subject", "predicate", "object"], triples);
      statusLine.textContent = plural(triples.length, "triple") + took;
      showDownloads(query, "graph");
    } else {
      tableBox.replaceChildren(make("pre", { textContent: body }));
      tableBox.hidden = false;
      statusLine.textContent = (type || "Untyped") + " response" + took;
    }
    truncatedNotice.hidden = !truncated;
  }

  async function run() {
    const query = editor.value;
    if (!query.trim()) return editor.focus();
    reset();
    statusLine.textContent = "Running…";
    runButton.disabled = true;
    results.setAttribute("aria-busy", "true");
    const started = performance.now();
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: { Accept: ACCEPT },
        body: new URLSearchParams({ query: query }), // sent as application/x-www-form-urlencoded
      });
      const body = await response.text();
      const elapsed = performance.now() - started;
      if (!response.ok) showError(response.status + " " + response.statusText, body);
      else render(response, body, query, elapsed);
    } catch (error) {
      showError("The query could not be run: " + error.message, "");
    } finally {
      runButton.disabled = false;
      results.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
})();
