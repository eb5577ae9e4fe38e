// The recommendations grid: load /recs, fill cards from /items, send likes and
// dislikes to /interact, and replace each rated card with a fresh pick.
(function () {
  "use strict";

  var R = window.Recsys;
  var grid = document.getElementById("grid");
  var notices = document.getElementById("notices");
  var statusLine = document.getElementById("status");
  var userLabel = document.getElementById("user-id");
  var startOver = document.getElementById("start-over");

  var pageSize = (function () {
    var n = parseInt(new URLSearchParams(window.location.search).get("n"), 10);
    return n > 0 && n <= 100 ? n : R.config.pageSize;
  })();

  var state = {
    userId: R.identity.get(),
    meta: new Map(), // item_id -> {title, year, genres, poster_url?}; a cache across calls
    rated: new Set(), // rated in this page's life: never shown again even if the API lags
    incoming: new Set(), // picked to replace a rated card, not in the grid yet
    generation: 0, // bumped by "start over": late answers for the old user are dropped
  };

  var BADGES = {
    personal: { label: "For you", hint: "Picked by your personal model" },
    realtime: { label: "For you", hint: "Similar to a movie you liked" },
    popular: { label: "Popular", hint: "Popular with everyone right now" },
    random: { label: "Explore", hint: "Something different, to explore" },
    explore: { label: "Explore", hint: "Something different, to explore" },
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

  function displayedIds() {
    return Array.prototype.map.call(grid.querySelectorAll(".card[data-item-id]"), function (c) {
      return c.getAttribute("data-item-id");
    });
  }

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

  function unreachableText(err, url) {
    if (err && err.unreachable) {
      return "No answer from " + url + ". It may be starting up or offline; try again in a moment.";
    }
    return "The service at " + url + " answered with an error (" + (err && err.message) + ").";
  }

  // ------------------------------------------------------------------ loading

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

  function fetchMeta(ids) {
    var missing = ids.filter(function (id) { return id && !state.meta.has(id); });
    if (!missing.length) return Promise.resolve();
    return R.api.items(missing).then(
      function (data) {
        var items = (data && data.items) || {};
        Object.keys(items).forEach(function (id) { state.meta.set(id, items[id] || {}); });
      },
      function () {
        // Cards still render (with "Movie 123") if only the metadata is missing.
      }
    );
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

  function fetchRecs(n) {
    return R.api.recs(state.userId, n).then(function (data) {
      var entries = recsEntries(data).filter(function (e) {
        e.item_id = String(e.item_id);
        return !state.rated.has(e.item_id);
      });
      var needed = [];
      entries.forEach(function (e) {
        needed.push(e.item_id);
        if (e.because) needed.push(String(e.because));
      });
      return fetchMeta(needed).then(function () { return entries; });
    });
  }

  function loadGrid() {
    var generation = ++state.generation;
    clearNotice("recs");
    showSkeletons(pageSize);
    announce("Loading recommendations…");
    return fetchRecs(pageSize).then(
      function (entries) {
        if (generation !== state.generation) return;
        grid.textContent = "";
        entries.slice(0, pageSize).forEach(function (entry) { grid.appendChild(renderCard(entry)); });
        grid.setAttribute("aria-busy", "false");
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
          unreachableText(err, R.config.recsUrl), { label: "Try again", onClick: loadGrid });
      }
    );
  }

  // Tell people up front when likes cannot be saved, instead of on first click.
  function checkInteractService() {
    R.api.health(R.config.interactUrl).then(
      function () { clearNotice("interact"); },
      function (err) {
        var detail = err && err.status === 503
          ? "The service at " + R.config.interactUrl + " is up but one of its dependencies is not."
          : unreachableText(err, R.config.interactUrl);
        showNotice("interact", "warning", "Likes and dislikes can't be saved right now.", detail);
      }
    );
  }

  // -------------------------------------------------------------------- cards

  function renderBadge(entry) {
    var source = entry.source || "";
    var badge = BADGES[source];
    if (!badge) return null;
    var label = badge.label;
    var hint = badge.hint;
    if (source === "realtime" && entry.because) {
      label = "Because you liked " + titleOf(String(entry.because));
      hint = label;
    }
    return h("span", {
      className: "badge badge--" + (source === "random" ? "explore" : source),
      title: hint,
      text: label,
    });
  }

  function renderPoster(meta, itemId, title) {
    var poster = h("div", { className: "poster" });
    var drawn = R.drawPoster(meta, itemId);
    if (meta.poster_url) {
      var img = h("img", {
        src: meta.poster_url, alt: "Poster for " + title, loading: "lazy", decoding: "async",
        className: "poster__img",
      });
      img.addEventListener("error", function () { img.replaceWith(drawn); });
      poster.appendChild(img);
    } else {
      poster.appendChild(drawn);
    }
    return poster;
  }

  function choiceButton(kind, title, year) {
    var label = kind === "like" ? "Like" : "Dislike";
    var button = h("button", {
      type: "button",
      className: "btn btn--choice btn--" + kind,
      "aria-pressed": "false",
      "aria-label": label + " " + title + (year ? " (" + year + ")" : ""),
      "data-action": kind,
    }, [icon(kind), h("span", { text: label })]);
    return button;
  }

  function renderCard(entry) {
    var itemId = String(entry.item_id);
    var meta = state.meta.get(itemId) || {};
    var title = titleOf(itemId);
    var year = meta.year || "";
    var genres = meta.genres || [];
    var titleId = "card-title-" + itemId.replace(/[^A-Za-z0-9_-]/g, "_");

    var poster = renderPoster(meta, itemId, title);
    var badge = renderBadge(entry);
    if (badge) poster.appendChild(badge);
    poster.appendChild(h("span", { className: "stamp", "aria-hidden": "true" }));

    var link = h("a", {
      href: R.imdbUrl(meta),
      target: "_blank",
      rel: "noopener noreferrer",
      text: title,
      title: "Find " + title + " on IMDb (opens in a new tab)",
    });
    var like = choiceButton("like", title, year);
    var dislike = choiceButton("dislike", title, year);
    var cardStatus = h("div", { className: "card__status", role: "status", "aria-live": "polite" });

    var card = h("li", {
      className: "card",
      "data-item-id": itemId,
      "data-source": entry.source || "",
    }, [
      h("article", { "aria-labelledby": titleId }, [
        poster,
        h("div", { className: "card__body" }, [
          h("h2", { className: "card__title", id: titleId }, [link]),
          h("p", { className: "card__meta" }, [
            year ? h("span", { className: "card__year", text: String(year) }) : null,
            genres.length ? h("span", { className: "card__genres", text: genres.join(" · ") }) : null,
          ]),
          h("div", { className: "card__actions", role: "group", "aria-label": "Rate " + title }, [
            like, dislike,
          ]),
          cardStatus,
        ]),
      ]),
    ]);

    like.addEventListener("click", function () { rate(card, "like"); });
    dislike.addEventListener("click", function () { rate(card, "dislike"); });
    return card;
  }

  function setBusy(card, busy) {
    card.querySelectorAll(".btn--choice").forEach(function (b) { b.disabled = busy; });
    card.classList.toggle("card--pending", busy);
    card.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showChoice(card, action) {
    card.classList.remove("card--like", "card--dislike", "card--error");
    card.classList.add("card--" + action);
    card.querySelectorAll(".btn--choice").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-action") === action ? "true" : "false");
    });
    var stamp = card.querySelector(".stamp");
    if (stamp) stamp.textContent = action === "like" ? "Liked" : "Disliked";
  }

  function rate(card, action) {
    if (card.classList.contains("card--pending") || card.classList.contains("card--leaving")) return;
    var itemId = card.getAttribute("data-item-id");
    var title = titleOf(itemId);
    var status = card.querySelector(".card__status");
    var generation = state.generation;
    var userId = state.userId;
    // Disabled buttons lose focus; remember it so it can be put back afterwards.
    var hadFocus = card.contains(document.activeElement) || card._hadFocus === true;
    card._hadFocus = hadFocus;

    showChoice(card, action);
    setBusy(card, true);
    status.textContent = "Saving…";

    R.api.interact(userId, [itemId], [action]).then(
      function () {
        state.rated.add(itemId);
        if (generation !== state.generation) return;
        setBusy(card, false);
        card.querySelectorAll(".btn--choice").forEach(function (b) { b.disabled = true; });
        status.textContent = (action === "like" ? "Liked" : "Disliked") + ". Finding something new…";
        clearNotice("interact");
        replaceCard(card, generation, hadFocus);
      },
      function (err) {
        if (generation !== state.generation) return;
        setBusy(card, false);
        card.classList.remove("card--like", "card--dislike");
        card.classList.add("card--error");
        card.querySelectorAll(".btn--choice").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
        var reason = err && err.unreachable
          ? "the service did not answer"
          : (err && err.message) || "unknown error";
        status.textContent = "";
        status.appendChild(h("span", {
          className: "card__error",
          text: "Couldn't save your " + action + " (" + reason + "). ",
        }));
        var retry = h("button", {
          type: "button",
          className: "btn btn--retry",
          "aria-label": "Retry " + action + " for " + title,
          text: "Retry",
        });
        retry.addEventListener("click", function () {
          card._hadFocus = card.contains(document.activeElement);
          rate(card, action);
        });
        status.appendChild(retry);
        card._hadFocus = false;
        if (hadFocus && (document.activeElement === document.body || !document.activeElement)) retry.focus();
      }
    );
  }

  function replaceCard(card, generation, hadFocus) {
    var index = Array.prototype.indexOf.call(grid.children, card);
    // Ask for enough to skip everything already on screen.
    var n = Math.min(100, pageSize + grid.children.length + 4);
    fetchRecs(n).then(
      function (entries) {
        if (generation !== state.generation || !card.isConnected) return;
        // Two quick ratings must not bring in the same movie twice: skip what is
        // on screen and what another card is about to show.
        var onScreen = new Set(displayedIds());
        var next = entries.find(function (e) {
          return !onScreen.has(e.item_id) && !state.incoming.has(e.item_id);
        });
        if (next) state.incoming.add(next.item_id);
        swap(card, next ? renderCard(next) : null, hadFocus, index);
      },
      function () {
        if (generation !== state.generation || !card.isConnected) return;
        swap(card, null, hadFocus, index);
        showNotice("recs", "warning", "Couldn't fetch a new recommendation.",
          unreachableText({ unreachable: true }, R.config.recsUrl),
          { label: "Reload recommendations", onClick: loadGrid });
      }
    );
  }

  function swap(oldCard, newCard, hadFocus, index) {
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var finish = function () {
      if (newCard) state.incoming.delete(newCard.getAttribute("data-item-id"));
      if (!oldCard.isConnected) return;
      if (newCard) {
        newCard.classList.add("card--entering");
        oldCard.replaceWith(newCard);
        // Two frames: the entering style must be painted before it is removed.
        window.requestAnimationFrame(function () {
          window.requestAnimationFrame(function () { newCard.classList.remove("card--entering"); });
        });
        announce("New recommendation: " + titleOf(newCard.getAttribute("data-item-id")) + ".");
      } else {
        oldCard.remove();
      }
      if (hadFocus) {
        var target = newCard ? newCard.querySelector(".btn--like")
          : grid.children[Math.min(index, grid.children.length - 1)];
        if (target && target.querySelector && !target.matches("button")) target = target.querySelector(".btn--like");
        if (target) target.focus();
      }
    };
    oldCard.classList.add("card--leaving");
    if (reduceMotion) finish();
    else window.setTimeout(finish, 250);
  }

  // -------------------------------------------------------------- start over

  function showUser() {
    userLabel.textContent = state.userId.replace(/^anon-/, "").slice(0, 8);
    userLabel.setAttribute("data-user-id", state.userId);
  }

  startOver.addEventListener("click", function () {
    state.userId = R.identity.reset();
    state.rated = new Set();
    state.incoming = new Set();
    showUser();
    announce("Started over as a new visitor.");
    loadGrid();
  });

  // For tests and curious people: the current id, without reading storage.
  window.Recsys.currentUserId = function () { return state.userId; };

  showUser();
  loadGrid();
  checkInteractService();
})();
