/* Requests Desk: small progressive enhancements. Every form works without this file:
   "Add"/"Remove" row buttons are real submit buttons the server understands. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var MAX_FILE = 20 * 1024 * 1024;

  function rowsOf(name) {
    return document.querySelector('[data-rows="' + name + '"]');
  }

  function highestIndex(container, name) {
    var re = new RegExp("(?:^|-)" + name + "-(\\d+)");
    var max = -1;
    container.querySelectorAll("[name]").forEach(function (el) {
      var m = re.exec(el.getAttribute("name"));
      if (m) { max = Math.max(max, parseInt(m[1], 10)); }
    });
    return max;
  }

  function renumber(row, name, index) {
    var re = new RegExp("((?:^|-)" + name + "-)(\\d+)", "g");
    ["name", "id", "for", "value", "aria-describedby"].forEach(function (attr) {
      row.querySelectorAll("[" + attr + "]").forEach(function (el) {
        if (attr === "value" && !el.hasAttribute("data-remove-row")) { return; }
        el.setAttribute(attr, el.getAttribute(attr).replace(re, "$1" + index));
      });
    });
  }

  function clearRow(row) {
    row.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") { el.checked = false; }
      else if (el.tagName === "SELECT") { el.selectedIndex = 0; }
      else if (el.type !== "hidden" && el.type !== "submit" && el.type !== "button") { el.value = ""; }
      el.classList.remove("invalid");
      el.removeAttribute("aria-invalid");
    });
    row.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    row.classList.remove("has-error", "row-error");
  }

  function numberRows(container) {
    container.querySelectorAll("[data-row]").forEach(function (row, i) {
      var label = row.querySelector("[data-row-number]");
      if (label) { label.textContent = String(i + 1); }
    });
  }

  function addRow(name) {
    var container = rowsOf(name);
    if (!container) { return; }
    var rows = container.querySelectorAll("[data-row]");
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    renumber(copy, name, highestIndex(container, name) + 1);
    clearRow(copy);
    container.appendChild(copy);
    numberRows(container);
    var first = copy.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { first.focus(); }
  }

  function removeRow(button) {
    var row = button.closest("[data-row]");
    var container = row && row.parentElement;
    if (!row || !container) { return; }
    if (container.querySelectorAll("[data-row]").length > 1) {
      row.remove();
    } else {
      clearRow(row);
    }
    numberRows(container);
    syncTargets();
  }

  function syncTargets() {
    var list = document.getElementById("target-options");
    if (!list) { return; }
    var seen = {};
    list.innerHTML = "";
    document.querySelectorAll("[data-target-input]").forEach(function (input) {
      var v = input.value.trim();
      if (v && !seen[v]) {
        seen[v] = true;
        var opt = document.createElement("option");
        opt.value = v;
        list.appendChild(opt);
      }
    });
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      event.preventDefault();
      addRow(add.getAttribute("data-add-row"));
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      event.preventDefault();
      removeRow(remove);
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-target-input]")) { syncTargets(); }
  });

  // Files over 20 MiB are refused by the server anyway; say so before the upload.
  function tooLarge(input) {
    var max = parseInt(input.getAttribute("data-max-bytes") || MAX_FILE, 10);
    return Array.prototype.filter.call(input.files || [], function (f) { return f.size > max; });
  }

  function showFileError(input, files) {
    var box = input.closest(".field");
    var old = box && box.querySelector(".error.js-file");
    if (old) { old.remove(); }
    if (!files.length || !box) { return; }
    var msg = document.createElement("small");
    msg.className = "error js-file";
    msg.setAttribute("role", "alert");
    msg.textContent = files.map(function (f) { return f.name; }).join(", ") +
      ": larger than 20 MiB. Upload a smaller PDF (or split it).";
    box.appendChild(msg);
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("input[type=file][data-max-bytes]")) { showFileError(el, tooLarge(el)); }
    if (el.id === "emergency") {
      var box = el.closest(".emergency-box");
      if (box) { box.classList.toggle("is-on", el.checked); }
    }
    if (el.id === "process_type" && el.value === "emergency") {
      var flag = document.getElementById("emergency");
      if (flag && !flag.checked) {
        flag.checked = true;
        flag.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    if (el.id === "kind") { showKind(el.value); }
  });

  document.addEventListener("submit", function (event) {
    var bad = [];
    event.target.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
      var files = tooLarge(input);
      showFileError(input, files);
      bad = bad.concat(files);
    });
    if (bad.length) { event.preventDefault(); }
  });

  // Add a user: staff roles or a customer organisation.
  function showKind(kind) {
    document.querySelectorAll("[data-kind]").forEach(function (el) {
      el.hidden = el.getAttribute("data-kind") !== kind;
    });
  }
  var kind = document.getElementById("kind");
  if (kind) { showKind(kind.value); }

  // The case page's actions: one open at a time.
  var actions = document.querySelectorAll("details.action");
  actions.forEach(function (details) {
    details.addEventListener("toggle", function () {
      if (!details.open) { return; }
      actions.forEach(function (other) { if (other !== details) { other.open = false; } });
      var first = details.querySelector(".action-body input:not([type=hidden]):not([type=checkbox]), .action-body textarea, .action-body select");
      if (first) { first.focus({ preventScroll: true }); }
    });
  });
  document.querySelectorAll("[data-go-back]").forEach(function (link) {
    link.addEventListener("click", function (event) { event.preventDefault(); history.back(); });
  });
  var opened = document.querySelector("details.action[open]");
  if (opened) { opened.scrollIntoView({ block: "start" }); }

  // A refused action comes back (422, 409, 403) with the case page and what was typed, at
  // the action's address: show the case page's own address, so that reloading, sharing
  // or going back reads the case and never sends the form again.
  var refusal = document.getElementById("refusal");
  if (refusal && refusal.getAttribute("data-case-url") && window.history && history.replaceState) {
    history.replaceState(null, "", refusal.getAttribute("data-case-url"));
  }
})();
