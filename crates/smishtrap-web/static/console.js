// smishtrap console: live rows (events and analysed messages) for the Live page.
// Attacker text only ever reaches the page through textContent (never innerHTML), and links
// only point at this console's own detail pages.
"use strict";

(function () {
  const table = document.getElementById("events");
  const status = document.getElementById("stream-status");
  if (!table || !window.EventSource) {
    return;
  }
  const body = table.tBodies[0];
  const MAX_ROWS = 500;
  let url = table.dataset.stream;
  const first = body.rows.length > 0 ? body.rows[0].dataset.id : "";
  if (first) {
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "after=" + encodeURIComponent(first);
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
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
    tr.appendChild(cell(row.kind));
    tr.appendChild(cell(row.sensor));
    tr.appendChild(cell(row.src_ip));
    tr.appendChild(cell(row.method + " " + row.path));
    tr.appendChild(cell(String(row.status)));
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
    tr.appendChild(cell(row.recipient + " " + row.country));
    tr.appendChild(cell(row.verdict));
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
  });
  source.addEventListener("lagged", function (message) {
    status.textContent = "Live: " + message.data + " events were skipped (reload to see them).";
  });
})();
