// Shared helpers for index.html and stats.html: configuration, the API client,
// the anonymous user id and the generated posters. Plain ES2017, no build step.
(function () {
  "use strict";

  var DEFAULTS = {
    interactUrl: "http://127.0.0.1:5000",
    recsUrl: "http://127.0.0.1:5001",
    pageSize: 12,
    timeoutMs: 8000,
  };

  function trimSlash(url) {
    return String(url || "").replace(/\/+$/, "");
  }

  var raw = window.RECSYS_CONFIG || {};
  var config = {
    interactUrl: trimSlash(raw.interactUrl || DEFAULTS.interactUrl),
    recsUrl: trimSlash(raw.recsUrl || DEFAULTS.recsUrl),
    pageSize: Number(raw.pageSize) > 0 ? Number(raw.pageSize) : DEFAULTS.pageSize,
    timeoutMs: Number(raw.timeoutMs) > 0 ? Number(raw.timeoutMs) : DEFAULTS.timeoutMs,
  };

  // ---------------------------------------------------------------- API client

  // Thrown for every failed call. `unreachable` is true when no HTTP answer came
  // back at all (server down, CORS refusal, timeout): the browser cannot tell
  // these apart, and neither can the person using the page.
  function ApiError(message, status, unreachable, detail) {
    this.name = "ApiError";
    this.message = message;
    this.status = status || 0;
    this.unreachable = Boolean(unreachable);
    this.detail = detail;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  function describeDetail(detail) {
    if (!detail) return "";
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map(function (d) { return d && d.msg ? d.msg : JSON.stringify(d); })
        .join("; ");
    }
    return JSON.stringify(detail);
  }

  function requestJson(url, options) {
    options = options || {};
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, config.timeoutMs) : null;
    var init = {
      method: options.method || "GET",
      headers: { Accept: "application/json" },
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
    };
    if (controller) init.signal = controller.signal;
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    Object.keys(options.headers || {}).forEach(function (name) {
      init.headers[name] = options.headers[name];
    });
    return fetch(url, init)
      .then(
        function (response) {
          return response.text().then(function (text) {
            var data = null;
            if (text) {
              try { data = JSON.parse(text); } catch (e) { data = null; }
            }
            if (!response.ok) {
              var detail = data && data.detail !== undefined ? data.detail : text;
              throw new ApiError(
                "HTTP " + response.status + (detail ? ": " + describeDetail(detail) : ""),
                response.status, false, detail
              );
            }
            return data;
          });
        },
        function (err) {
          var timedOut = err && err.name === "AbortError";
          throw new ApiError(timedOut ? "timed out" : "unreachable", 0, true);
        }
      )
      .finally(function () { if (timer) clearTimeout(timer); });
  }

  // What went wrong, in plain words for the person using the page: never the
  // server's exception text (that goes to the server's log, not to people).
  function plainReason(err) {
    if (!err || err.unreachable) return "the service didn't answer";
    if (err.status === 503 || err.status === 502 || err.status === 504) {
      return "the service is having trouble right now";
    }
    if (err.status === 404) return "the service doesn't know this film";
    if (err.status === 422 || err.status === 400) return "the service didn't accept it";
    if (err.status === 429) return "the service is busy";
    return "something went wrong on our side";
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var api = {
    recs: function (userId, n) {
      return requestJson(config.recsUrl + "/recs/" + encodeURIComponent(userId) + "?n=" + n);
    },
    items: function (ids) {
      var query = ids.map(encodeURIComponent).join(",");
      return requestJson(config.recsUrl + "/items?ids=" + query);
    },
    search: function (query, n) {
      return requestJson(config.recsUrl + "/search?q=" + encodeURIComponent(query) + "&n=" + n);
    },
    similar: function (itemId, n) {
      return requestJson(config.recsUrl + "/items/" + encodeURIComponent(itemId) + "/similar?n=" + n);
    },
    model: function () { return requestJson(config.recsUrl + "/model"); },
    stats: function () { return requestJson(config.recsUrl + "/stats"); },
    // `key` is sent as Idempotency-Key: a retry of the same click re-sends the
    // same key, so a server that saw the first attempt does not count it twice.
    interact: function (userId, itemIds, actions, key) {
      return requestJson(config.interactUrl + "/interact", {
        method: "POST",
        body: { user_id: userId, item_ids: itemIds, actions: actions },
        headers: key ? { "Idempotency-Key": key } : {},
      });
    },
    health: function (base) { return requestJson(base + "/healthcheck"); },
  };

  // ------------------------------------------------------------ user identity

  var USER_KEY = "recsys.user_id";

  function newUserId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return "anon-" + window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "anon-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function readCookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name.replace(/\./g, "\\.") + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function writeCookie(name, value) {
    // One year; the id is not a secret, it only ties likes to recommendations.
    document.cookie = name + "=" + encodeURIComponent(value) +
      "; max-age=31536000; path=/; SameSite=Lax";
  }

  function storageGet() {
    try { return window.localStorage.getItem(USER_KEY); } catch (e) { return readCookie(USER_KEY); }
  }

  function storageSet(value) {
    try { window.localStorage.setItem(USER_KEY, value); } catch (e) { writeCookie(USER_KEY, value); }
  }

  // The API accepts ids like this (recsys.domain.events.ID_PATTERN, 64 characters at most).
  var VALID_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/;

  var identity = {
    get: function () {
      var id = storageGet();
      if (!id || !VALID_ID.test(id)) {
        id = newUserId();
        storageSet(id);
      }
      return id;
    },
    reset: function () {
      var id = newUserId();
      storageSet(id);
      return id;
    },
  };

  // ------------------------------------------------------------------ posters

  var GENRE_COLOURS = {
    "Action": "#d7263d",
    "Adventure": "#f46036",
    "Animation": "#ffb400",
    "Children's": "#7bc950",
    "Comedy": "#f9c80e",
    "Crime": "#2e294e",
    "Documentary": "#5c7a89",
    "Drama": "#6a4c93",
    "Fantasy": "#9b5de5",
    "Film-Noir": "#1b1b1e",
    "Horror": "#5e0b15",
    "Musical": "#f15bb5",
    "Mystery": "#3a506b",
    "Romance": "#e56b9f",
    "Sci-Fi": "#00a6a6",
    "Thriller": "#393e41",
    "War": "#556b2f",
    "Western": "#a0522d",
    "unknown": "#6c757d",
  };

  function genreColour(genre) {
    return GENRE_COLOURS[genre] || GENRE_COLOURS.unknown;
  }

  function hash(text) {
    // FNV-1a: small, stable across browsers, good enough to pick a motif.
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return h >>> 0;
  }

  // "Usual Suspects, The" -> "The Usual Suspects" (MovieLens keeps articles last).
  function displayTitle(title) {
    var m = /^(.*), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$/.exec(String(title || ""));
    return m ? m[2] + (m[2].slice(-1) === "'" ? "" : " ") + m[1] : String(title || "");
  }

  function wrapWords(text, maxChars, maxLines) {
    var words = text.split(/\s+/).filter(Boolean);
    var lines = [];
    var line = "";
    for (var i = 0; i < words.length; i++) {
      var candidate = line ? line + " " + words[i] : words[i];
      if (candidate.length > maxChars && line) {
        lines.push(line);
        line = words[i];
      } else {
        line = candidate;
      }
    }
    if (line) lines.push(line);
    if (lines.length > maxLines) {
      lines = lines.slice(0, maxLines);
      lines[maxLines - 1] = lines[maxLines - 1].replace(/.{0,1}$/, "") + "…";
    }
    return lines;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  // Each drawn poster's gradient ids are unique in the document: url(#id)
  // resolves to the first element with that id, and when that one sits in a
  // hidden part of the page (the onboarding grid after "Skip"), Chromium
  // paints the later copies of the same film blank.
  var postersDrawn = 0;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  // A distinctive poster from title, year and genres: the background blends the
  // genre colours, a motif picked from the title's hash sits behind the title.
  function drawPoster(meta, itemId, options) {
    var withTitle = !(options && options.title === false);
    var title = displayTitle(meta.title || "Movie " + itemId);
    var genres = (meta.genres && meta.genres.length ? meta.genres : ["unknown"]).slice(0, 3);
    var h = hash(title + "|" + (meta.year || ""));
    postersDrawn += 1;
    var uid = "p" + String(itemId).replace(/[^A-Za-z0-9_-]/g, "_") + "-" + h.toString(36) +
      "-" + postersDrawn;
    var svg = el("svg", {
      viewBox: "0 0 200 300",
      class: "poster__art",
      role: "img",
      "aria-label": "Poster for " + title,
      preserveAspectRatio: "xMidYMid slice",
    });
    var defs = el("defs", {}, svg);
    var grad = el("linearGradient", {
      id: uid + "-bg", x1: "0", y1: "0", x2: (h % 2) ? "1" : "0.3", y2: "1",
    }, defs);
    var stops = genres.length === 1 ? [genres[0], genres[0]] : genres;
    stops.forEach(function (g, i) {
      el("stop", {
        offset: String(i / (stops.length - 1)),
        "stop-color": genreColour(g),
      }, grad);
    });
    el("rect", { width: "200", height: "300", fill: "url(#" + uid + "-bg)" }, svg);
    // Darken the lower part so the title always reads.
    var shade = el("linearGradient", { id: uid + "-sh", x1: "0", y1: "0", x2: "0", y2: "1" }, defs);
    el("stop", { offset: "0.35", "stop-color": "#000", "stop-opacity": "0" }, shade);
    el("stop", { offset: "1", "stop-color": "#000", "stop-opacity": "0.65" }, shade);

    var motif = el("g", { fill: "none", stroke: "#fff", "stroke-opacity": "0.22" }, svg);
    var cx = 40 + (h % 120);
    var cy = 50 + ((h >>> 8) % 90);
    switch ((h >>> 16) % 5) {
      case 0: // concentric rings
        for (var r = 18; r < 220; r += 22) el("circle", { cx: cx, cy: cy, r: r, "stroke-width": "6" }, motif);
        break;
      case 1: // diagonal stripes
        for (var x = -300; x < 300; x += 26) {
          el("line", { x1: x, y1: 0, x2: x + 300, y2: 300, "stroke-width": "9" }, motif);
        }
        break;
      case 2: // a sun over a horizon
        el("circle", { cx: cx, cy: 120, r: 52, fill: "#fff", "fill-opacity": "0.25", stroke: "none" }, motif);
        for (var y = 150; y < 300; y += 14) {
          el("line", { x1: 0, y1: y, x2: 200, y2: y, "stroke-width": String(2 + (y - 150) / 30) }, motif);
        }
        break;
      case 3: // dot grid
        for (var gx = 12; gx < 200; gx += 24) {
          for (var gy = 12; gy < 200; gy += 24) {
            var big = ((gx * 7 + gy * 3 + h) % 5) === 0;
            el("circle", { cx: gx, cy: gy, r: big ? 6 : 3, fill: "#fff", "fill-opacity": "0.25", stroke: "none" }, motif);
          }
        }
        break;
      default: // overlapping triangles
        for (var t = 0; t < 4; t++) {
          var ox = (h >>> (t * 4)) % 200;
          el("polygon", {
            points: ox + ",20 " + (ox + 90) + ",190 " + (ox - 90) + ",190",
            "stroke-width": "5",
          }, motif);
        }
    }
    el("rect", { width: "200", height: "300", fill: "url(#" + uid + "-sh)" }, svg);

    // Title bottom left, the year just above it; the top is left for the badge.
    // Bold serif glyphs average about 0.62 em: size the text so the longest
    // line fits the 172 units between the margins.
    if (!withTitle) return svg; // the card prints the title once, below the poster
    var lines = wrapWords(title, 12, 4);
    var longest = Math.max.apply(null, lines.map(function (l) { return l.length; }));
    var size = Math.max(14, Math.min(lines.length > 3 ? 22 : 26, Math.floor(172 / (0.62 * longest))));
    var baseY = 284 - (lines.length - 1) * (size + 3);
    var year = el("text", { x: "14", y: String(baseY - size - 4), class: "poster__year" }, svg);
    year.textContent = meta.year ? String(meta.year) : "";
    var text = el("text", { x: "14", class: "poster__title", "font-size": String(size) }, svg);
    lines.forEach(function (line, i) {
      var span = el("tspan", { x: "14", y: String(baseY + i * (size + 3)) }, text);
      span.textContent = line;
    });
    return svg;
  }

  function imdbUrl(meta) {
    var query = displayTitle(meta.title || "") + (meta.year ? " " + meta.year : "");
    return "https://www.imdb.com/find/?s=tt&q=" + encodeURIComponent(query.trim());
  }

  window.Recsys = {
    config: config,
    api: api,
    ApiError: ApiError,
    plainReason: plainReason,
    uuid: uuid,
    identity: identity,
    drawPoster: drawPoster,
    displayTitle: displayTitle,
    genreColour: genreColour,
    imdbUrl: imdbUrl,
  };
})();
