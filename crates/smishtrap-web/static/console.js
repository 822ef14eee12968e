// smishtrap console: live rows (events and analysed messages) for the Live page, copy
// buttons, and the Overview's own refresh.
// Attacker text only ever reaches the page through textContent (never innerHTML), and links
// only point at this console's own detail pages. The Overview refresh swaps in nodes of the
// server's own page (rendered with every value escaped), parsed inert by DOMParser: no
// script in it runs and CSP forbids inline script anyway.
"use strict";

// Copy buttons: `data-copy` names the element whose text (a defanged list) is copied.
document.addEventListener("click", function (event) {
  const button = event.target.closest ? event.target.closest("button[data-copy]") : null;
  if (!button) {
    return;
  }
  const source = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector(".copy-status");
  if (!source) {
    return;
  }
  const text = source.value !== undefined ? source.value : source.textContent;
  const done = function (ok) {
    if (status) {
      status.textContent = ok ? "Copied " + text.split("\n").length + " lines." : "Select the list and copy it.";
    }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
  } else {
    source.focus();
    source.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    done(ok);
  }
});

// Overview: fetch the page again every `data-refresh` seconds and swap its figures in place.
(function () {
  const live = document.getElementById("overview-live");
  if (!live || !window.fetch || !window.DOMParser) {
    return;
  }
  const seconds = Math.max(5, parseInt(live.dataset.refresh, 10) || 15);
  function status(text) {
    const el = document.getElementById("refresh-status");
    if (el) {
      el.textContent = text;
    }
  }
  function refresh() {
    if (document.hidden) {
      return;
    }
    // Leave the page alone while someone selects text in it (a block list being copied).
    const selection = window.getSelection ? String(window.getSelection()) : "";
    if (selection.length > 0) {
      return;
    }
    fetch(location.pathname, { credentials: "same-origin", cache: "no-store", redirect: "follow" })
      .then(function (response) {
        return response.ok ? response.text() : Promise.reject(new Error(String(response.status)));
      })
      .then(function (html) {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.getElementById("overview-live");
        const current = document.getElementById("overview-live");
        if (!fresh || !current) {
          status("Not refreshed: the session has ended. Reload to log in again.");
          return;
        }
        const openDetails = Array.from(current.querySelectorAll("details[open]")).map(function (d) {
          return d.querySelector("summary") ? d.querySelector("summary").textContent : "";
        });
        const node = document.importNode(fresh, true);
        node.querySelectorAll("details").forEach(function (d) {
          const summary = d.querySelector("summary");
          if (summary && openDetails.indexOf(summary.textContent) >= 0) {
            d.open = true;
          }
        });
        current.replaceWith(node);
        status("Refreshes every " + seconds + " s; last at " + new Date().toISOString().slice(11, 19) + " UTC.");
      })
      .catch(function () {
        status("Refresh failed; trying again in " + seconds + " s.");
      });
  }
  window.setInterval(refresh, seconds * 1000);
})();

(function () {
  const table = document.getElementById("events");
  const status = document.getElementById("stream-status");
  if (!table || !status || !window.EventSource) {
    return;
  }
  const body = table.tBodies[0];
  const MAX_ROWS = 500;
  let url = table.dataset.stream;
  const first = body.rows.length > 0 ? body.rows[0].dataset.id : "";
  if (first) {
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "after=" + encodeURIComponent(first);
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    return td;
  }

  const VERDICT_CLASS = { smishing: "v-smishing", spam: "v-spam", ham: "v-ham" };
  // Puts a message's verdict, linked to the message, on the row of the event it came from.
  function markEvent(row) {
    if (typeof row.event_id !== "string") {
      return;
    }
    for (const tr of body.rows) {
      if (tr.dataset.id !== row.event_id) {
        continue;
      }
      const td = tr.querySelector("td.verdict");
      if (!td || td.querySelector("a")) {
        return;
      }
      const a = document.createElement("a");
      a.href = "/messages/" + encodeURIComponent(row.id);
      a.textContent = row.verdict;
      td.appendChild(a);
      td.className = "verdict " + (VERDICT_CLASS[row.verdict] || "v-other");
      return;
    }
  }

  function addRow(row) {
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    const time = document.createElement("td");
    const link = document.createElement("a");
    link.href = "/events/" + encodeURIComponent(row.id);
    link.textContent = row.ts;
    time.appendChild(link);
    tr.appendChild(time);
    time.className = "nowrap";
    tr.appendChild(cell(row.kind, "nowrap"));
    tr.appendChild(cell("", "verdict"));
    tr.appendChild(cell(row.sensor, "nowrap"));
    tr.appendChild(cell(row.dialect ? row.family + " · " + row.dialect : row.family, "nowrap origin"));
    tr.appendChild(cell(row.src_ip, "ip"));
    tr.appendChild(cell(row.method + " " + row.path, "request"));
    tr.appendChild(cell(String(row.status), "num"));
    const summary = cell(row.summary);
    summary.className = "summary";
    tr.appendChild(summary);
    tr.className = "new";
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > MAX_ROWS) {
      body.deleteRow(body.rows.length - 1);
    }
  }

  const source = new EventSource(url);
  source.addEventListener("open", function () {
    status.textContent = "Live: new events appear at the top.";
  });
  source.addEventListener("error", function () {
    status.textContent = "Live updates interrupted, reconnecting…";
  });
  source.addEventListener("event", function (message) {
    let row;
    try {
      row = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    addRow(row);
  });
  // Analysed messages (verdict, campaign) in their own table, newest first.
  const messages = document.getElementById("live-messages");
  const CAMPAIGN_ID = /^[A-Za-z0-9-]{1,64}$/;
  function addMessage(row) {
    if (!messages) {
      return;
    }
    const tbody = messages.tBodies[0];
    for (const tr of tbody.rows) {
      if (tr.dataset.id === row.id) {
        return;
      }
    }
    const tr = document.createElement("tr");
    tr.dataset.id = row.id;
    const time = document.createElement("td");
    const link = document.createElement("a");
    link.href = "/messages/" + encodeURIComponent(row.id);
    link.textContent = row.ts;
    time.appendChild(link);
    tr.appendChild(time);
    time.className = "nowrap";
    tr.appendChild(cell(row.recipient + " " + row.country, "nowrap"));
    tr.appendChild(cell(row.verdict, "verdict " + (VERDICT_CLASS[row.verdict] || "v-other")));
    tr.appendChild(cell(row.brand));
    const text = cell(row.text);
    text.className = "summary";
    tr.appendChild(text);
    const campaign = document.createElement("td");
    if (typeof row.campaign === "string" && CAMPAIGN_ID.test(row.campaign)) {
      const a = document.createElement("a");
      a.href = "/campaigns/" + encodeURIComponent(row.campaign);
      a.textContent = row.campaign;
      campaign.appendChild(a);
    }
    tr.appendChild(campaign);
    tr.className = "new";
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) {
      tbody.deleteRow(tbody.rows.length - 1);
    }
  }
  source.addEventListener("message", function (message) {
    let row;
    try {
      row = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    addMessage(row);
    markEvent(row);
  });
  source.addEventListener("lagged", function (message) {
    status.textContent = "Live: " + message.data + " events were skipped (reload to see them).";
  });
})();
