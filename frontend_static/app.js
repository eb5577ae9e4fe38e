// The recommendations page: onboarding, search, the grid from /recs, the film
// panel with similar films, ratings with undo, and "Your ratings".
// Plain ES2017, no build step.
(function () {
  "use strict";

  var R = window.Recsys;
  var $ = function (id) { return document.getElementById(id); };
  var grid = $("grid");
  var notices = $("notices");
  var statusLine = $("status");
  var userLabel = $("user-id");
  var toast = $("toast");

  var pageSize = (function () {
    var n = parseInt(new URLSearchParams(window.location.search).get("n"), 10);
    return n > 0 && n <= 100 ? n : R.config.pageSize;
  })();
  var PERSONAL = { personal: true, realtime: true };
  var GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western"];
  var HEALTH_RETRY_MS = 10000;
  var TOAST_MS = 8000;
  var LEAVE_MS = 60;
  var PREFETCH_AFTER_MS = 1000;

  var state = {
    userId: R.identity.get(),
    meta: new Map(), // item_id -> {title, year, genres, poster_url?}; a cache across calls
    ratings: new Map(), // item_id -> {action, at}: this visitor's ratings, kept in localStorage
    incoming: new Set(), // picked to replace a card, not in the grid yet
    generation: 0, // bumped by "start over": late answers for the old user are dropped
    interactDown: false,
    healthTimer: null,
    toastTimer: null,
    timings: [], // click -> answer -> settled, for the browser test and curious people
  };

  var BADGES = {
    personal: { label: "For you", hint: "Picked by your personal model" },
    realtime: { label: "For you", hint: "Similar to a movie you liked" },
    popular: { label: "Popular", hint: "Popular with everyone right now" },
    random: { label: "Explore", hint: "Something different, to explore" },
    explore: { label: "Explore", hint: "Something different, to explore" },
    similar: { label: "Similar", hint: "Similar to this film" },
  };

  var ICONS = {
    // Thumbs up / down, after Feather icons (MIT).
    like: "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
    dislike: "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17",
  };

  // ------------------------------------------------------------------ helpers

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function icon(name) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function announce(text) {
    // Clear first so the same message is announced twice in a row.
    statusLine.textContent = "";
    window.setTimeout(function () { statusLine.textContent = text; }, 30);
  }

  function titleOf(itemId) {
    var meta = state.meta.get(itemId);
    return meta && meta.title ? R.displayTitle(meta.title) : "Movie " + itemId;
  }

  function cardsIn(list) {
    return Array.prototype.slice.call(list.querySelectorAll(".card[data-item-id]"));
  }

  function displayedIds() {
    return cardsIn(grid).map(function (c) { return c.getAttribute("data-item-id"); });
  }

  function pastTense(action) { return action === "like" ? "Liked" : "Disliked"; }

  // ----------------------------------------------------------- ratings store

  function ratingsKey() { return "recsys.ratings." + state.userId; }
  function onboardedKey() { return "recsys.onboarded." + state.userId; }

  function loadRatings() {
    state.ratings = new Map();
    try {
      var saved = JSON.parse(window.localStorage.getItem(ratingsKey()) || "[]");
      saved.forEach(function (r) { state.ratings.set(String(r.item_id), { action: r.action, at: r.at }); });
    } catch (e) { /* no storage or a broken entry: start empty */ }
    updateRatingsCount();
  }

  function saveRatings() {
    var list = [];
    state.ratings.forEach(function (r, id) { list.push({ item_id: id, action: r.action, at: r.at }); });
    try { window.localStorage.setItem(ratingsKey(), JSON.stringify(list)); } catch (e) { /* private mode */ }
    updateRatingsCount();
  }

  function setRating(itemId, action) {
    if (action === "remove") state.ratings.delete(itemId);
    else state.ratings.set(itemId, { action: action, at: Date.now() });
    saveRatings();
  }

  function updateRatingsCount() { $("ratings-count").textContent = String(state.ratings.size); }

  // ----------------------------------------------------------------- notices

  function clearNotice(key) {
    var old = notices.querySelector('[data-notice="' + key + '"]');
    if (old) old.remove();
  }

  function showNotice(key, kind, heading, body, action) {
    clearNotice(key);
    var box = h("div", {
      className: "notice notice--" + kind,
      role: kind === "error" ? "alert" : "status",
      "data-notice": key,
    }, [
      h("p", { className: "notice__heading", text: heading }),
      body ? h("p", { className: "notice__body", text: body }) : null,
    ]);
    if (action) {
      var button = h("button", { type: "button", className: "btn btn--primary", text: action.label });
      button.addEventListener("click", action.onClick);
      box.appendChild(button);
    }
    notices.appendChild(box);
    return box;
  }

  function serviceText(err, name, url) {
    if (err && err.unreachable) {
      return "No answer from the " + name + " service (" + url + "). It may be starting up or offline; try again in a moment.";
    }
    return "The " + name + " service answered, but " + R.plainReason(err) + ". Try again in a moment.";
  }

  // --------------------------------------------------------------- the toast

  function showToast(text, undo) {
    window.clearTimeout(state.toastTimer);
    toast.textContent = "";
    toast.appendChild(h("span", { className: "toast__text", text: text }));
    if (undo) {
      var button = h("button", { type: "button", className: "btn btn--toast", text: "Undo" });
      button.addEventListener("click", function () { hideToast(); undo(); });
      toast.appendChild(button);
    }
    toast.classList.add("toast--shown");
    state.toastTimer = window.setTimeout(hideToast, TOAST_MS);
  }

  function hideToast() {
    window.clearTimeout(state.toastTimer);
    toast.classList.remove("toast--shown");
    // Keep the focus somewhere sensible if it was on the Undo button.
    if (toast.contains(document.activeElement)) $("main").focus();
    toast.textContent = "";
  }

  // -------------------------------------------------------------- loading data

  function fetchMeta(ids) {
    var missing = ids.filter(function (id) { return id && !state.meta.has(id); });
    if (!missing.length) return Promise.resolve();
    var chunks = [];
    for (var i = 0; i < missing.length; i += 100) chunks.push(missing.slice(i, i + 100));
    return Promise.all(chunks.map(function (chunk) {
      return R.api.items(chunk).then(
        function (data) {
          var items = (data && data.items) || {};
          Object.keys(items).forEach(function (id) { state.meta.set(id, items[id] || {}); });
        },
        function () { /* cards still render (with "Movie 123") if only the metadata is missing */ }
      );
    }));
  }

  function recsEntries(data) {
    // Prefer the rich `items` list; fall back to the original `item_ids` shape.
    if (data && Array.isArray(data.items) && data.items.length) {
      return data.items.map(function (entry) {
        return typeof entry === "string" ? { item_id: entry } : entry;
      });
    }
    return ((data && data.item_ids) || []).map(function (id) { return { item_id: String(id) }; });
  }

  // Recommendations not on screen yet, with their metadata. Only what can be
  // shown is looked up: one small /items call after /recs, none if cached.
  function fetchRecs(n, onlyNew, timing) {
    return R.api.recs(state.userId, Math.min(100, n)).then(function (data) {
      if (timing) timing.recs = performance.now();
      var shown = onlyNew ? new Set(displayedIds()) : new Set();
      var entries = recsEntries(data).filter(function (e) {
        e.item_id = String(e.item_id);
        return !state.ratings.has(e.item_id) && !shown.has(e.item_id);
      });
      var needed = [];
      entries.forEach(function (e, i) {
        if (onlyNew && i >= pageSize && !PERSONAL[e.source]) return;
        needed.push(e.item_id);
        if (e.because) needed.push(String(e.because));
      });
      return fetchMeta(needed).then(function () {
        if (timing) timing.meta = performance.now();
        return entries;
      });
    });
  }

  function showSkeletons(count) {
    grid.setAttribute("aria-busy", "true");
    grid.textContent = "";
    for (var i = 0; i < count; i++) {
      grid.appendChild(h("li", { className: "card card--skeleton", "aria-hidden": "true" }, [
        h("div", { className: "poster" }),
        h("div", { className: "card__body" }, [
          h("div", { className: "skeleton-line" }),
          h("div", { className: "skeleton-line skeleton-line--short" }),
        ]),
      ]));
    }
  }

  function loadGrid() {
    var generation = ++state.generation;
    clearNotice("recs");
    showSkeletons(pageSize);
    $("load-more").disabled = false;
    announce("Loading recommendations…");
    return fetchRecs(pageSize).then(
      function (entries) {
        if (generation !== state.generation) return;
        grid.textContent = "";
        entries.slice(0, pageSize).forEach(function (entry) { grid.appendChild(renderCard(entry, "grid")); });
        grid.setAttribute("aria-busy", "false");
        if (entries.length) prefetchNext();
        if (!entries.length) {
          showNotice("recs", "info", "Nothing to recommend right now.",
            "You have rated everything we know about, or the catalogue is empty.",
            { label: "Try again", onClick: loadGrid });
          announce("No recommendations.");
        } else {
          announce(entries.length + " recommendations loaded.");
        }
      },
      function (err) {
        if (generation !== state.generation) return;
        grid.textContent = "";
        grid.setAttribute("aria-busy", "false");
        showNotice("recs", "error", "We can't load recommendations right now.",
          serviceText(err, "recommendation", R.config.recsUrl), { label: "Try again", onClick: loadGrid });
      }
    );
  }

  // "Load more": another page of picks below the ones on screen.
  $("load-more").addEventListener("click", function () {
    var button = $("load-more");
    var generation = state.generation;
    button.disabled = true;
    button.textContent = "Loading…";
    var onScreen = displayedIds();
    fetchRecs(onScreen.length + pageSize + 4).then(
      function (entries) {
        if (generation !== state.generation) return;
        var shown = new Set(displayedIds());
        var fresh = entries.filter(function (e) { return !shown.has(e.item_id) && !state.incoming.has(e.item_id); })
          .slice(0, pageSize);
        fresh.forEach(function (e) { grid.appendChild(renderCard(e, "grid")); });
        button.textContent = "Load more";
        button.disabled = fresh.length === 0 || displayedIds().length >= 100;
        announce(fresh.length ? fresh.length + " more recommendations." : "No more recommendations right now.");
      },
      function (err) {
        button.textContent = "Load more";
        button.disabled = false;
        showNotice("recs", "warning", "Couldn't load more recommendations.",
          serviceText(err, "recommendation", R.config.recsUrl));
      }
    );
  });

  // ---------------------------------------------------- interact availability

  function setRatingAllowed(allowed) {
    state.interactDown = !allowed;
    document.body.classList.toggle("rating-paused", !allowed);
    document.querySelectorAll(".btn--choice, .btn--retry, .btn--remove").forEach(function (b) {
      var card = b.closest(".card");
      if (card && card.classList.contains("card--pending")) return;
      b.disabled = !allowed;
      if (allowed) b.removeAttribute("aria-describedby");
      else b.setAttribute("aria-describedby", "interact-reason");
    });
  }

  // Tell people up front when ratings cannot be saved, and disable the buttons
  // until the service is back (checked again every few seconds).
  function checkInteractService() {
    window.clearTimeout(state.healthTimer);
    return R.api.health(R.config.interactUrl).then(
      function () {
        clearNotice("interact");
        if (state.interactDown) announce("Ratings can be saved again.");
        setRatingAllowed(true);
      },
      function (err) {
        var why = err && err.unreachable
          ? "The rating service doesn't answer."
          : "The rating service is up, but a part it needs is not.";
        var box = showNotice("interact", "warning", "Likes and dislikes can't be saved right now.",
          why + " The rating buttons are paused; we check again every few seconds.");
        box.querySelector(".notice__body").id = "interact-reason";
        setRatingAllowed(false);
        state.healthTimer = window.setTimeout(checkInteractService, HEALTH_RETRY_MS);
      }
    );
  }

  // ------------------------------------------------------------------- cards

  function renderBadge(entry) {
    var source = entry.source || "";
    var badge = BADGES[source];
    if (!badge) return null;
    var label = badge.label;
    if (source === "realtime" && entry.because) label = "Because you liked " + titleOf(String(entry.because));
    return h("span", {
      className: "badge badge--" + (source === "random" ? "explore" : source),
      title: badge.hint,
      text: label,
    });
  }

  function renderPoster(meta, itemId, title) {
    var drawn = R.drawPoster(meta, itemId, { title: false });
    drawn.setAttribute("aria-hidden", "true");
    drawn.removeAttribute("role");
    drawn.removeAttribute("aria-label");
    if (!meta.poster_url) return drawn;
    var img = h("img", { src: meta.poster_url, alt: "", loading: "lazy", decoding: "async", className: "poster__img" });
    img.addEventListener("error", function () { img.replaceWith(drawn); });
    return img;
  }

  function choiceButton(kind, title, year) {
    var label = kind === "like" ? "Like" : "Dislike";
    return h("button", {
      type: "button",
      className: "btn btn--choice btn--" + kind,
      "aria-pressed": "false",
      "aria-label": label + " " + title + (year ? " (" + year + ")" : ""),
      "data-action": kind,
    }, [icon(kind), h("span", { className: "btn__label", text: label })]);
  }

  // context: "grid" (a rated card makes way), or "results", "similar", "panel",
  // "onboarding" (the card stays and shows the rating, which can be changed).
  function renderCard(entry, context) {
    var itemId = String(entry.item_id);
    var meta = state.meta.get(itemId) || {};
    var title = titleOf(itemId);
    var year = meta.year || "";
    var genres = meta.genres || [];
    var domId = context + "-" + itemId.replace(/[^A-Za-z0-9_-]/g, "_");

    var poster = h("button", {
      type: "button",
      className: "poster",
      "aria-label": "Details and similar films: " + title,
      "data-open-panel": itemId,
    }, [renderPoster(meta, itemId, title)]);
    var badge = renderBadge(entry);
    var stamp = h("span", { className: "stamp", "aria-hidden": "true" });
    var like = choiceButton("like", title, year);
    var dislike = choiceButton("dislike", title, year);
    var actions = context === "onboarding" ? [like] : [like, dislike];
    if (context === "onboarding") {
      like.setAttribute("aria-label", "Love it: " + title + (year ? " (" + year + ")" : ""));
      like.querySelector(".btn__label").textContent = "Love it";
    }

    var card = h("li", {
      className: "card card--" + context,
      "data-item-id": itemId,
      "data-source": entry.source || "",
      "data-context": context,
    }, [
      h("article", { "aria-labelledby": domId }, [
        h("div", { className: "poster-wrap" }, [poster, badge, stamp]),
        h("div", { className: "card__body" }, [
          h("h3", { className: "card__title", id: domId, text: title, title: title }),
          h("p", { className: "card__meta" }, [
            year ? h("span", { className: "card__year", text: String(year) }) : null,
            genres.length ? h("span", { className: "card__genres", text: genres.join(" · "), title: genres.join(" · ") }) : null,
          ]),
          h("div", { className: "card__actions", role: "group", "aria-label": "Rate " + title }, actions),
          h("div", { className: "card__status", role: "status", "aria-live": "polite" }),
        ]),
      ]),
    ]);
    card._entry = entry;
    poster.addEventListener("click", function () { openFilmPanel(itemId); });
    actions.forEach(function (b) {
      b.addEventListener("click", function () {
        var action = b.getAttribute("data-action");
        // A second press on the chosen button takes the rating back.
        if (context !== "grid" && b.getAttribute("aria-pressed") === "true") action = "remove";
        rate(card, action);
      });
    });
    var rated = state.ratings.get(itemId);
    if (rated && context !== "grid") showChoice(card, rated.action);
    if (state.interactDown) {
      actions.forEach(function (b) { b.disabled = true; b.setAttribute("aria-describedby", "interact-reason"); });
    }
    return card;
  }

  function setBusy(card, busy) {
    card.querySelectorAll(".btn--choice").forEach(function (b) { b.disabled = busy || state.interactDown; });
    card.classList.toggle("card--pending", busy);
    card.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showChoice(card, action) {
    card.classList.remove("card--like", "card--dislike", "card--error");
    if (action === "like" || action === "dislike") card.classList.add("card--" + action);
    card.querySelectorAll(".btn--choice").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-action") === action ? "true" : "false");
    });
    var stamp = card.querySelector(".stamp");
    if (stamp) stamp.textContent = action === "like" || action === "dislike" ? pastTense(action) : "";
  }

  // Every card showing this film, anywhere on the page.
  function cardsFor(itemId) {
    return Array.prototype.slice.call(document.querySelectorAll('.card[data-item-id="' + CSS.escape(itemId) + '"]'));
  }

  // Send one rating (like, dislike or remove). `key` is the Idempotency-Key:
  // fresh for a click, the same one again for its "Retry".
  function send(itemId, action, key) {
    return R.api.interact(state.userId, [itemId], [action], key || R.uuid());
  }

  function rate(card, action, key) {
    if (card.classList.contains("card--pending") || card.classList.contains("card--leaving")) return;
    if (state.interactDown) return;
    key = key || R.uuid();
    var itemId = card.getAttribute("data-item-id");
    var context = card.getAttribute("data-context");
    var status = card.querySelector(".card__status");
    var generation = state.generation;
    var previous = state.ratings.get(itemId);
    var timing = { item_id: itemId, action: action, click: performance.now() };
    state.timings.push(timing);
    // Disabled buttons lose focus; remember it so it can be put back afterwards.
    var hadFocus = card.contains(document.activeElement) || card._hadFocus === true;
    card._hadFocus = hadFocus;

    showChoice(card, action);
    setBusy(card, true);
    status.textContent = "Saving…";
    window.clearTimeout(prefetchTimer);
    if (action === "like" && context === "grid") prefetchSimilar(itemId);

    send(itemId, action, key).then(
      function () {
        timing.answered = performance.now();
        if (generation !== state.generation) return;
        setRating(itemId, action);
        clearNotice("interact");
        setBusy(card, false);
        status.textContent = "";
        if (hadFocus && !card.contains(document.activeElement)) {
          var pressed = card.querySelector('.btn--choice[aria-pressed="true"]') || card.querySelector(".btn--choice");
          if (context !== "grid" && pressed) pressed.focus();
        }
        // The same film elsewhere on the page shows the same choice.
        cardsFor(itemId).forEach(function (other) {
          if (other !== card && other.getAttribute("data-context") !== "grid") showChoice(other, action);
        });
        if (context === "onboarding") updatePickedCount();
        var undo = action === "remove" ? null : function () { undoRating(itemId, previous); };
        showToast(action === "remove"
          ? "Removed " + titleOf(itemId) + " from your ratings."
          : pastTense(action) + " " + titleOf(itemId) + ".", undo);
        if (context === "grid") {
          card.querySelectorAll(".btn--choice").forEach(function (b) { b.disabled = true; });
          status.textContent = pastTense(action) + ". Finding something new…";
          followRating(card, generation, hadFocus, timing);
        } else {
          timing.settled = performance.now();
          if (action !== "remove") {
            cardsIn(grid).forEach(function (c) {
              if (c.getAttribute("data-item-id") === itemId) c.remove();
            });
          }
          if (context !== "onboarding") followRating(null, generation, false, null);
        }
      },
      function (err) {
        timing.answered = timing.settled = performance.now();
        timing.failed = true;
        if (generation !== state.generation) return;
        setBusy(card, false);
        showChoice(card, previous ? previous.action : "remove");
        card.classList.add("card--error");
        status.textContent = "";
        var verb = action === "remove" ? "take back your rating" : "save your " + action;
        status.appendChild(h("span", { className: "card__error", text: "Couldn't " + verb + ": " + R.plainReason(err) + ". " }));
        var retry = h("button", {
          type: "button",
          className: "btn btn--retry",
          "aria-label": "Retry " + action + " for " + titleOf(itemId),
          text: "Retry",
        });
        retry.addEventListener("click", function () {
          card._hadFocus = card.contains(document.activeElement);
          card.classList.remove("card--error");
          rate(card, action, key); // the same key: the server may have seen the first try
        });
        status.appendChild(retry);
        card._hadFocus = false;
        if (hadFocus && (document.activeElement === document.body || !document.activeElement)) retry.focus();
        // Is it the service, or was it this one request?
        checkInteractService();
      }
    );
  }

  // While a like is being saved, look up its similar films and their titles:
  // they are what /recs will bring in next, so the card can be swapped as soon
  // as /recs answers, without another round trip for the metadata.
  var similarAvailable = true;
  function prefetchSimilar(itemId) {
    if (!similarAvailable) return;
    R.api.similar(itemId, 20).then(
      function (data) { fetchMeta(((data && data.item_ids) || []).map(String)); },
      function (err) {
        // FastAPI's own "Not Found" means a server without the endpoint: stop asking.
        if (err && err.status === 404 && err.detail === "Not Found") similarAvailable = false;
      }
    );
  }

  // Titles of the next likely cards, fetched once the visitor pauses (not
  // between two quick clicks, where it would compete with the next rating).
  var prefetchTimer = null;
  function prefetchNext() {
    window.clearTimeout(prefetchTimer);
    prefetchTimer = window.setTimeout(function () {
      R.api.recs(state.userId, pageSize * 3).then(function (data) {
        return fetchMeta(recsEntries(data).map(function (e) { return String(e.item_id); }));
      }).catch(function () { /* only a warm-up */ });
    }, PREFETCH_AFTER_MS);
  }

  // After a rating: the rated grid card (if any) makes way for a fresh pick,
  // and cards that are not personal give way to personal picks, in place, so
  // no card moves; the card under the pointer or with the focus is left alone.
  function followRating(ratedCard, generation, hadFocus, timing) {
    var index = ratedCard ? cardsIn(grid).indexOf(ratedCard) : -1;
    if (ratedCard) ratedCard.classList.add("card--leaving");
    var leaving = new Promise(function (resolve) { window.setTimeout(resolve, reducedMotion() ? 0 : LEAVE_MS); });
    var n = pageSize + cardsIn(grid).length + 8;
    var recs = R.api.recs(state.userId, Math.min(100, n)).then(function (data) {
      if (timing) timing.recs = performance.now();
      var shown = new Set(displayedIds());
      var entries = recsEntries(data).filter(function (e) {
        e.item_id = String(e.item_id);
        return !state.ratings.has(e.item_id) && !shown.has(e.item_id) && !state.incoming.has(e.item_id);
      });
      var personal = entries.filter(function (e) { return PERSONAL[e.source]; });
      var others = entries.filter(function (e) { return !PERSONAL[e.source]; });
      // The best personal pick; else a popular or explore pick whose title is
      // already known (they are interchangeable, and it saves a round trip).
      var first = personal.shift() ||
        others.filter(function (e) { return state.meta.has(e.item_id); })[0] || others[0] || null;
      // Reserved until it is in the grid: quick ratings on several cards each
      // run this, and /recs gives them all the same best pick.
      if (first) state.incoming.add(first.item_id);
      var needed = [];
      (first ? [first] : []).concat(personal).forEach(function (e) {
        needed.push(e.item_id);
        if (e.because) needed.push(String(e.because));
      });
      return fetchMeta(needed).then(function () {
        if (timing) timing.meta = performance.now();
        return { first: first, personal: personal };
      });
    });
    return Promise.all([recs, leaving]).then(
      function (results) {
        var next = results[0];
        if (next.first) state.incoming.delete(next.first.item_id);
        if (generation !== state.generation) return;
        if (ratedCard && ratedCard.isConnected) {
          swap(ratedCard, next.first ? renderCard(next.first, "grid") : null, hadFocus, index);
        }
        refreshNonPersonal(next.personal);
        if (timing) timing.settled = performance.now();
        prefetchNext();
      },
      function () {
        if (generation !== state.generation) return;
        if (ratedCard && ratedCard.isConnected) swap(ratedCard, null, hadFocus, index);
        if (timing) timing.settled = performance.now();
        showNotice("recs", "warning", "Couldn't fetch new recommendations.",
          "No answer from the recommendation service. The cards on screen are still good to rate.",
          { label: "Reload recommendations", onClick: loadGrid });
      }
    );
  }

  function refreshNonPersonal(personal) {
    // Checked again now: another rating may have put one of these in the grid,
    // or reserved it, since this list was drawn.
    var shown = new Set(displayedIds());
    personal = personal.filter(function (e) {
      return !shown.has(e.item_id) && !state.incoming.has(e.item_id) && !state.ratings.has(e.item_id);
    });
    if (!personal.length) return;
    var hovered = grid.querySelector(".card:hover");
    var replaced = 0;
    cardsIn(grid).forEach(function (card) {
      if (!personal.length || PERSONAL[card.getAttribute("data-source")]) return;
      if (card === hovered || card.contains(document.activeElement)) return;
      if (card.classList.contains("card--pending") || card.classList.contains("card--leaving")) return;
      var fresh = renderCard(personal.shift(), "grid");
      card.replaceWith(fresh);
      replaced++;
    });
    if (replaced) announce(replaced + " suggestions updated to follow your taste.");
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function swap(oldCard, newCard, hadFocus, index) {
    if (newCard) {
      newCard._replaces = oldCard;
      newCard.classList.add("card--entering");
      oldCard.replaceWith(newCard);
      window.requestAnimationFrame(function () {
        window.requestAnimationFrame(function () { newCard.classList.remove("card--entering"); });
      });
      announce("New recommendation: " + titleOf(newCard.getAttribute("data-item-id")) + ".");
    } else {
      oldCard.remove();
    }
    if (hadFocus) {
      var cards = cardsIn(grid);
      var target = newCard || cards[Math.min(index, cards.length - 1)];
      var button = target && target.querySelector(".btn--like");
      if (button) button.focus();
    }
  }

  // Undo: send "remove" (or the earlier rating back), and put the card back.
  function undoRating(itemId, previous) {
    var action = previous ? previous.action : "remove";
    var generation = state.generation;
    send(itemId, action).then(
      function () {
        if (generation !== state.generation) return;
        setRating(itemId, action);
        cardsFor(itemId).forEach(function (c) {
          if (c.getAttribute("data-context") !== "grid") showChoice(c, action);
        });
        if (action === "remove") restoreGridCard(itemId);
        if ($("onboarding").hidden === false) updatePickedCount();
        showToast("Undone: " + titleOf(itemId) + " is no longer rated.");
        announce("Undone.");
      },
      function (err) {
        showToast("Couldn't undo: " + R.plainReason(err) + ". Try again from Your ratings.");
      }
    );
  }

  // The card that replaced a rated one gives its place back to it.
  function restoreGridCard(itemId) {
    var replacement = cardsIn(grid).filter(function (c) {
      return c._replaces && c._replaces.getAttribute("data-item-id") === itemId;
    })[0];
    if (!replacement) return;
    var original = renderCard(replacement._replaces._entry, "grid");
    replacement.replaceWith(original);
    var like = original.querySelector(".btn--like");
    if (like && (document.activeElement === document.body || !document.activeElement)) like.focus();
  }

  // ------------------------------------------------------------------ search

  var searchSeq = 0;
  function runSearch(query, list, statusEl, context) {
    query = query.trim();
    var seq = ++searchSeq;
    if (!query) {
      list.textContent = "";
      statusEl.textContent = "Type a few letters of a title.";
      return Promise.resolve([]);
    }
    statusEl.textContent = "Searching…";
    list.setAttribute("aria-busy", "true");
    return R.api.search(query, context === "onboarding" ? 18 : pageSize).then(
      function (data) {
        if (seq !== searchSeq) return []; // a newer search is on its way
        var items = (data && data.items) || [];
        items.forEach(function (item) {
          state.meta.set(String(item.item_id), { title: item.title, year: item.year, genres: item.genres || [] });
        });
        list.textContent = "";
        items.forEach(function (item) { list.appendChild(renderCard({ item_id: String(item.item_id) }, context)); });
        list.setAttribute("aria-busy", "false");
        statusEl.textContent = items.length
          ? items.length + (items.length === 1 ? " film matches " : " films match ") + "“" + query + "”."
          : "No film matches “" + query + "”. Try fewer or shorter words.";
        return items;
      },
      function (err) {
        if (seq !== searchSeq) return [];
        list.setAttribute("aria-busy", "false");
        statusEl.textContent = "Search isn't available right now: " + R.plainReason(err) + ".";
        return [];
      }
    );
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  var searchForm = $("search-form");
  var searchInput = $("search-q");
  var lastQuery = "";
  function mainSearch() {
    var query = searchInput.value.trim();
    if (query && query === lastQuery && !$("search-results").hidden) return; // already shown
    lastQuery = query;
    if (!query) { closeResults(); return; }
    $("search-results").hidden = false;
    $("results-h").textContent = "Results for “" + query + "”";
    runSearch(query, $("results-grid"), $("results-status"), "results");
  }
  searchForm.addEventListener("submit", function (e) { e.preventDefault(); mainSearch(); });
  searchInput.addEventListener("input", debounce(mainSearch, 300));
  function closeResults() {
    lastQuery = "";
    $("search-results").hidden = true;
    $("results-grid").textContent = "";
    searchInput.value = "";
  }
  $("clear-search").addEventListener("click", function () { closeResults(); searchInput.focus(); });

  // -------------------------------------------------------------- film panel

  var filmPanel = $("film-panel");

  function openFilmPanel(itemId) {
    var meta = state.meta.get(itemId) || {};
    var title = titleOf(itemId);
    $("film-title").textContent = title + (meta.year ? " (" + meta.year + ")" : "");
    var body = $("film-body");
    body.textContent = "";
    var art = h("div", { className: "film__poster" }, [renderPoster(meta, itemId, title)]);
    var info = h("div", { className: "film__info" }, [
      h("p", { className: "card__meta", text: (meta.genres || []).join(" · ") }),
      h("p", {}, [h("a", {
        href: R.imdbUrl(meta), target: "_blank", rel: "noopener noreferrer",
        text: "Find " + title + " on IMDb", title: "Opens in a new tab",
      })]),
    ]);
    var rater = renderCard({ item_id: itemId }, "panel");
    rater.classList.add("card--compact");
    info.appendChild(h("ul", { className: "film__rate", "aria-label": "Your rating" }, [rater]));
    body.appendChild(art);
    body.appendChild(info);
    if (!filmPanel.open) filmPanel.showModal();
    loadSimilar(itemId);
  }

  function loadSimilar(itemId) {
    var list = $("similar-grid");
    var statusEl = $("similar-status");
    list.textContent = "";
    statusEl.textContent = "Finding similar films…";
    R.api.similar(itemId, 12).then(
      function (data) {
        var ids = ((data && data.item_ids) || []).map(String).filter(function (id) { return id !== itemId; });
        return fetchMeta(ids).then(function () {
          if (filmPanel.getAttribute("data-item-id") !== itemId) return;
          ids.forEach(function (id) { list.appendChild(renderCard({ item_id: id, source: "similar" }, "similar")); });
          statusEl.textContent = ids.length ? ids.length + " similar films." : "No similar films known yet.";
        });
      },
      function (err) {
        statusEl.textContent = err && err.status === 404
          ? "No similar films known yet."
          : "Similar films aren't available right now: " + R.plainReason(err) + ".";
      }
    );
    filmPanel.setAttribute("data-item-id", itemId);
  }

  // --------------------------------------------------------- your ratings

  var ratingsPanel = $("ratings-panel");

  function renderRatings() {
    var body = $("ratings-body");
    body.textContent = "";
    var entries = [];
    state.ratings.forEach(function (r, id) { entries.push({ item_id: id, action: r.action, at: r.at }); });
    entries.sort(function (a, b) { return (b.at || 0) - (a.at || 0); });
    if (!entries.length) {
      body.appendChild(h("p", { className: "muted", text: "You haven't rated any films in this browser yet." }));
      return Promise.resolve();
    }
    return fetchMeta(entries.map(function (e) { return e.item_id; })).then(function () {
      ["like", "dislike"].forEach(function (action) {
        var group = entries.filter(function (e) { return e.action === action; });
        if (!group.length) return;
        body.appendChild(h("h3", { text: action === "like" ? "Liked (" + group.length + ")" : "Disliked (" + group.length + ")" }));
        var list = h("ul", { className: "rated-list" });
        group.forEach(function (e) {
          var meta = state.meta.get(e.item_id) || {};
          var thumb = h("span", { className: "thumb", "aria-hidden": "true" });
          thumb.appendChild(R.drawPoster(meta, e.item_id, { title: false }));
          var remove = h("button", {
            type: "button", className: "btn btn--remove",
            "aria-label": "Remove your " + action + " of " + titleOf(e.item_id), text: "Remove",
          });
          if (state.interactDown) { remove.disabled = true; remove.setAttribute("aria-describedby", "interact-reason"); }
          var row = h("li", { "data-item-id": e.item_id }, [
            thumb,
            h("span", { className: "rated-list__title", text: titleOf(e.item_id) + (meta.year ? " (" + meta.year + ")" : "") }),
            remove,
          ]);
          remove.addEventListener("click", function () { removeRating(e.item_id, row, remove); });
          list.appendChild(row);
        });
        body.appendChild(list);
      });
    });
  }

  function removeRating(itemId, row, button) {
    button.disabled = true;
    button.textContent = "Removing…";
    var previous = state.ratings.get(itemId);
    send(itemId, "remove").then(
      function () {
        setRating(itemId, "remove");
        cardsFor(itemId).forEach(function (c) { if (c.getAttribute("data-context") !== "grid") showChoice(c, "remove"); });
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        var focusTarget = next && next.querySelector(".btn--remove");
        renderRatingsHeadings();
        if (focusTarget) focusTarget.focus();
        else ratingsPanel.querySelector("[data-close]").focus();
        showToast("Removed " + titleOf(itemId) + " from your ratings.", function () {
          if (previous) send(itemId, previous.action).then(function () { setRating(itemId, previous.action); });
        });
        followRating(null, state.generation, false, null);
      },
      function (err) {
        button.disabled = false;
        button.textContent = "Remove";
        showToast("Couldn't remove it: " + R.plainReason(err) + ".");
      }
    );
  }

  function renderRatingsHeadings() {
    ratingsPanel.querySelectorAll(".rated-list").forEach(function (list) {
      var heading = list.previousElementSibling;
      var count = list.children.length;
      if (!count) { list.remove(); if (heading) heading.remove(); return; }
      if (heading) heading.textContent = heading.textContent.replace(/\(\d+\)/, "(" + count + ")");
    });
    if (!state.ratings.size) renderRatings();
  }

  $("open-ratings").addEventListener("click", function () {
    renderRatings();
    ratingsPanel.showModal();
  });

  // --------------------------------------------------------------- dialogs

  document.querySelectorAll("dialog").forEach(function (dialog) {
    dialog.addEventListener("click", function (e) {
      if (e.target.closest("[data-close]")) dialog.close();
      else if (e.target === dialog) dialog.close(); // a click on the backdrop
    });
  });
  filmPanel.addEventListener("close", function () { filmPanel.removeAttribute("data-item-id"); });

  // -------------------------------------------------------------- onboarding

  var onboarding = $("onboarding");
  var onboardingGrid = $("onboarding-grid");
  var chosenGenres = new Set();
  var candidates = [];

  function needsOnboarding() {
    var done = null;
    try { done = window.localStorage.getItem(onboardedKey()); } catch (e) { done = "1"; }
    return !done && state.ratings.size === 0;
  }

  function finishOnboarding() {
    try { window.localStorage.setItem(onboardedKey(), "1"); } catch (e) { /* private mode */ }
    onboarding.hidden = true;
    $("picks").hidden = false;
    loadGrid();
    $("main").focus();
  }

  function updatePickedCount() {
    var n = cardsIn(onboardingGrid).filter(function (c) { return state.ratings.has(c.getAttribute("data-item-id")); }).length;
    var liked = 0;
    state.ratings.forEach(function (r) { if (r.action === "like") liked++; });
    $("picked-count").textContent = liked ? liked + (liked === 1 ? " film" : " films") + " liked" : "No films liked yet";
    return n;
  }

  function showCandidates() {
    var list = chosenGenres.size
      ? candidates.filter(function (id) {
        var genres = (state.meta.get(id) || {}).genres || [];
        return genres.some(function (g) { return chosenGenres.has(g); });
      })
      : candidates;
    onboardingGrid.textContent = "";
    list.slice(0, 18).forEach(function (id) { onboardingGrid.appendChild(renderCard({ item_id: id }, "onboarding")); });
    $("onboarding-hint").textContent = list.length
      ? (chosenGenres.size ? "Popular films in " + Array.from(chosenGenres).join(", ") + "." : "Popular films. Pick a genre to narrow them down.")
      : "Nothing popular in that genre yet: try a search.";
  }

  function startOnboarding() {
    onboarding.hidden = false;
    $("picks").hidden = true;
    var chips = $("genre-chips");
    chips.textContent = "";
    chosenGenres = new Set();
    GENRES.forEach(function (genre) {
      var chip = h("button", { type: "button", className: "chip", "aria-pressed": "false", text: genre });
      chip.addEventListener("click", function () {
        var on = chip.getAttribute("aria-pressed") !== "true";
        chip.setAttribute("aria-pressed", on ? "true" : "false");
        if (on) chosenGenres.add(genre); else chosenGenres.delete(genre);
        $("onboarding-q").value = "";
        showCandidates();
      });
      chips.appendChild(chip);
    });
    $("onboarding-hint").textContent = "Loading popular films…";
    updatePickedCount();
    // A new visitor's /recs is the popular list, then random films: good candidates.
    fetchRecs(100).then(
      function (entries) {
        candidates = entries.map(function (e) { return e.item_id; });
        showCandidates();
      },
      function (err) {
        $("onboarding-hint").textContent = "Popular films aren't available right now (" + R.plainReason(err) + "). Search still may work.";
      }
    );
  }

  $("onboarding-search").addEventListener("submit", function (e) {
    e.preventDefault();
    var q = $("onboarding-q").value;
    if (!q.trim()) { showCandidates(); return; }
    runSearch(q, onboardingGrid, $("onboarding-hint"), "onboarding");
  });
  $("show-picks").addEventListener("click", finishOnboarding);
  $("skip-onboarding").addEventListener("click", finishOnboarding);

  // -------------------------------------------------------------- start over

  function showUser() {
    userLabel.textContent = state.userId.replace(/^anon-/, "").slice(0, 8);
    userLabel.setAttribute("data-user-id", state.userId);
  }

  var confirmDialog = $("confirm-start-over");
  $("start-over").addEventListener("click", function () { confirmDialog.showModal(); });
  $("confirm-yes").addEventListener("click", function () {
    confirmDialog.close();
    state.userId = R.identity.reset();
    state.incoming = new Set();
    loadRatings();
    showUser();
    hideToast();
    closeResults();
    announce("Started over as a new visitor.");
    startOnboarding();
    state.generation++;
  });

  // For tests and curious people: the current id, and click timings.
  window.Recsys.currentUserId = function () { return state.userId; };
  window.Recsys.timings = function () { return state.timings.slice(); };

  showUser();
  loadRatings();
  if (needsOnboarding()) startOnboarding();
  else loadGrid();
  checkInteractService();
})();
