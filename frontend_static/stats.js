// stats.html: model metadata (GET /model) and counters (GET /stats) from the
// recs API. Keys may be missing before the first training run; the page says so.
(function () {
  "use strict";

  var R = window.Recsys;
  var notices = document.getElementById("notices");
  var statusLine = document.getElementById("status");
  var container = document.getElementById("stats");

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function showError(heading, err) {
    var body = err && err.unreachable
      ? "No answer from " + R.config.recsUrl + ". It may be starting up or offline; try again in a moment."
      : "The service at " + R.config.recsUrl + " answered, but " + R.plainReason(err) + ". Try again in a moment.";
    var box = h("div", { className: "notice notice--error", role: "alert" }, [
      h("p", { className: "notice__heading", text: heading }),
      h("p", { className: "notice__body", text: body }),
    ]);
    var retry = h("button", { type: "button", className: "btn btn--primary", text: "Try again" });
    retry.addEventListener("click", function () { notices.textContent = ""; load(); });
    box.appendChild(retry);
    notices.appendChild(box);
  }

  // ------------------------------------------------------------ formatting

  var numberFormat = new Intl.NumberFormat();

  function fmtNumber(value) {
    var n = Number(value);
    return isFinite(n) ? numberFormat.format(n) : String(value);
  }

  function fmtPercent(value) {
    return (Number(value) * 100).toFixed(1) + "%";
  }

  function parseTime(value) {
    if (value === null || value === undefined || value === "") return null;
    var n = Number(value);
    var date = isFinite(n) ? new Date(n < 1e12 ? n * 1000 : n) : new Date(String(value));
    return isNaN(date.getTime()) ? null : date;
  }

  function relative(date) {
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
    var rtf = typeof Intl.RelativeTimeFormat === "function" ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
    if (!rtf) return "";
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1]) return rtf.format(Math.round(seconds / units[i][1]), units[i][0]);
    }
    return rtf.format(seconds, "second");
  }

  function humanize(key) {
    var label = String(key).replace(/[_:.-]+/g, " ").trim();
    return label.charAt(0).toUpperCase() + label.slice(1);
  }

  // --------------------------------------------------------------- metrics

  var BASELINE_LABELS = {
    popularity: "Popularity",
    itemknn_cosine: "ItemKNN (cosine)",
    ease: "EASE",
    item2vec_gensim_defaults: "item2vec, default parameters",
  };

  // Only the fields /openapi.json declares (functions/contract.py: ModelInfo, Metrics).
  function hrOf(metrics) {
    var value = metrics ? metrics.hr_at_10 : null;
    return typeof value === "number" && isFinite(value) ? value : null;
  }

  // HR@10 of the published model and of each baseline:
  // {"metrics": {"hr_at_10": ...}, "baselines": {"popularity": {"hr_at_10": ...}, ...}}.
  function hitRates(model) {
    var baselines = model.baselines || {};
    var others = [];
    Object.keys(baselines).forEach(function (name) {
      var value = hrOf(baselines[name]);
      if (name !== "popularity" && value !== null) {
        others.push({ label: BASELINE_LABELS[name] || humanize(name), value: value });
      }
    });
    return { model: hrOf(model.metrics), popularity: hrOf(baselines.popularity), others: others };
  }

  function bar(label, value, max, extraClass) {
    var width = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
    return h("div", { className: "bar " + (extraClass || "") }, [
      h("div", { className: "bar__label" }, [
        h("span", { text: label }),
        h("strong", { text: fmtPercent(value) }),
      ]),
      h("div", {
        className: "bar__track", role: "img",
        "aria-label": label + ": " + fmtPercent(value),
      }, [h("div", { className: "bar__fill", style: "width:" + width.toFixed(1) + "%" })]),
    ]);
  }

  function timeCell(cell, date) {
    cell.textContent = "";
    if (!date) { cell.textContent = "—"; return; }
    cell.appendChild(h("time", {
      datetime: date.toISOString(),
      title: date.toISOString(),
      text: date.toLocaleString() + " (" + relative(date) + ")",
    }));
  }

  function renderModel(data) {
    var model = (data && data.model) || {};
    var version = model.version;
    $("model-version").textContent = version ? String(version) : "Not trained yet";
    var trained = parseTime(model.trained_at);
    // Models published before published_at existed: their training start is the best we know.
    timeCell($("model-published-at"), parseTime(model.published_at) || trained);
    timeCell($("model-trained-at"), trained);

    var algorithm = $("model-algorithm");
    algorithm.textContent = model.algorithm ? String(model.algorithm) : "—";

    var params = model.params && typeof model.params === "object" ? model.params : null;
    var paramsCell = $("model-params");
    paramsCell.textContent = params && Object.keys(params).length
      ? Object.keys(params).map(function (k) {
        var v = params[k];
        return k + " " + (typeof v === "number" ? fmtNumber(Math.round(v * 1e4) / 1e4) : String(v));
      }).join(" · ")
      : "—";

    var rates = hitRates(model);
    var bars = $("hr-bars");
    bars.textContent = "";
    var lift = $("hr-lift");
    lift.textContent = "";
    if (rates.model === null && rates.popularity === null) {
      bars.appendChild(h("p", { className: "muted", text: "No evaluation yet: the training job has not run." }));
      return;
    }
    var max = Math.max.apply(null, [rates.model || 0, rates.popularity || 0, 0.0001].concat(
      rates.others.map(function (o) { return o.value; })));
    if (rates.model !== null) bars.appendChild(bar("Personal model", rates.model, max, "bar--model"));
    if (rates.popularity !== null) bars.appendChild(bar("Popularity baseline", rates.popularity, max, "bar--baseline"));
    rates.others.forEach(function (o) { bars.appendChild(bar(o.label, o.value, max, "bar--other")); });
    if (rates.model !== null && rates.popularity) {
      var ratio = rates.model / rates.popularity;
      lift.textContent = ratio >= 1
        ? "The model finds " + ratio.toFixed(2) + "× as many held-out likes as popularity alone."
        : "The model trails the popularity baseline (" + ratio.toFixed(2) + "×).";
    }
  }

  // /stats (functions/contract.py: Stats): {"stats": {counters}, "catalogue_size": n,
  // "top_popular": [ids], "top_popular_items": {id: metadata}}.
  function topItems(stats) {
    return (stats.top_popular || []).slice(0, 10).map(function (id) { return { item_id: String(id) }; });
  }

  var COUNTER_LABELS = {
    events_in_log: "Events in the log",
    likes: "Likes",
    dislikes: "Dislikes",
    users: "Users",
    items: "Movies rated",
    catalogue_size: "Movies in the catalogue",
  };
  var COUNTER_ORDER = ["events_in_log", "likes", "dislikes", "users", "items", "catalogue_size"];

  function counters(stats) {
    var values = {};
    var source = stats.stats || {};
    Object.keys(source).forEach(function (k) { values[k] = source[k]; });
    values.catalogue_size = stats.catalogue_size;
    return values;
  }

  function renderCounts(stats) {
    var list = $("event-counts");
    list.textContent = "";
    var values = counters(stats);
    var keys = Object.keys(values).filter(function (k) {
      return !/^(top|popular|train_)/.test(k) && !/_at$/.test(k) &&
        (typeof values[k] === "number" || /^-?\d+(\.\d+)?$/.test(String(values[k])));
    });
    keys.sort(function (a, b) {
      var ia = COUNTER_ORDER.indexOf(a), ib = COUNTER_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : 1);
    });
    if (!keys.length) {
      list.appendChild(h("dt", { text: "Events" }));
      list.appendChild(h("dd", { text: "None yet" }));
    }
    keys.forEach(function (k) {
      list.appendChild(h("dt", { text: COUNTER_LABELS[k] || humanize(k) }));
      list.appendChild(h("dd", { "data-stat": k, text: fmtNumber(values[k]) }));
    });
    renderTraining(values);
    var ranAt = parseTime(values.popularity_ran_at);
    if (ranAt) {
      list.appendChild(h("dt", { text: "Popular list updated" }));
      list.appendChild(h("dd", {}, [h("time", {
        datetime: ranAt.toISOString(), title: ranAt.toISOString(), text: relative(ranAt),
      })]));
    }
  }

  // The last training run, published or not (the job keeps the previous model
  // when the new one does not beat popularity).
  // A run that has not finished after this long is reported as stuck, not running.
  var STUCK_AFTER_MS = 2 * 60 * 60 * 1000;

  function renderTraining(values) {
    var now = $("training-now");
    now.textContent = "";
    var since = parseTime(values.train_running_since);
    if (since && Date.now() - since.getTime() < STUCK_AFTER_MS) {
      now.className = "training-now training-now--running";
      now.appendChild(document.createTextNode("Training now: a run started "));
      now.appendChild(h("time", { datetime: since.toISOString(), title: since.toISOString(), text: relative(since) }));
      now.appendChild(document.createTextNode(". The model above stays in use until it finishes."));
    } else if (since) {
      now.className = "training-now";
      now.textContent = "The last training run did not finish; the model above is still in use.";
    } else {
      now.className = "training-now";
      now.textContent = "Not training right now.";
    }
    var box = $("training-outcome");
    box.textContent = "";
    var ranAt = parseTime(values.train_last_run_at);
    if (!ranAt && !values.train_last_outcome) return;
    if (ranAt) {
      box.appendChild(document.createTextNode("Last training run "));
      box.appendChild(h("time", { datetime: ranAt.toISOString(), title: ranAt.toISOString(), text: relative(ranAt) }));
      box.appendChild(document.createTextNode(values.train_last_outcome ? ": " : "."));
    }
    if (values.train_last_outcome) box.appendChild(document.createTextNode(String(values.train_last_outcome)));
  }

  function renderTop(stats, meta) {
    var list = $("top-items");
    list.textContent = "";
    var items = topItems(stats);
    if (!items.length) {
      list.appendChild(h("li", { className: "muted", text: "Nothing yet: no likes have been processed." }));
      return;
    }
    items.forEach(function (item) {
      var m = meta[item.item_id] || {};
      var title = R.displayTitle(m.title || "Movie " + item.item_id);
      var thumb = h("span", { className: "thumb", "aria-hidden": "true" });
      thumb.appendChild(R.drawPoster(m, item.item_id));
      list.appendChild(h("li", { "data-item-id": item.item_id }, [
        thumb,
        h("a", { href: R.imdbUrl(m), target: "_blank", rel: "noopener noreferrer", text: title + (m.year ? " (" + m.year + ")" : "") }),
      ]));
    });
  }

  function load() {
    container.setAttribute("aria-busy", "true");
    statusLine.textContent = "Loading statistics…";
    var model = R.api.model().catch(function (err) { return { __error: err }; });
    var stats = R.api.stats().catch(function (err) { return { __error: err }; });
    return Promise.all([model, stats]).then(function (results) {
      var m = results[0] || {};
      var s = results[1] || {};
      if (m.__error && s.__error) {
        showError("We can't load the statistics right now.", m.__error);
        $("model-version").textContent = "—";
        $("model-trained-at").textContent = "—";
        $("model-params").textContent = "—";
        $("model-algorithm").textContent = "—";
        $("hr-bars").textContent = "";
        $("event-counts").textContent = "";
        $("top-items").textContent = "";
        container.setAttribute("aria-busy", "false");
        statusLine.textContent = "Statistics unavailable.";
        return;
      }
      if (m.__error) showError("Model information is unavailable.", m.__error);
      else renderModel(m);
      if (s.__error) {
        showError("Counters are unavailable.", s.__error);
        return;
      }
      renderCounts(s);
      var ids = topItems(s).map(function (i) { return i.item_id; });
      var known = s.top_popular_items || {};
      var missing = ids.filter(function (id) { return !known[id]; });
      var metaCall = missing.length
        ? R.api.items(missing).then(function (d) { return (d && d.items) || {}; }, function () { return {}; })
        : Promise.resolve({});
      return metaCall.then(function (fetched) {
        var meta = {};
        Object.keys(known).forEach(function (id) { meta[id] = known[id]; });
        Object.keys(fetched).forEach(function (id) { meta[id] = fetched[id]; });
        renderTop(s, meta);
        container.setAttribute("aria-busy", "false");
        statusLine.textContent = "Statistics loaded.";
      });
    });
  }

  load();
})();
