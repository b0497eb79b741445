// motiongpt2 web page: type a description, watch the result in the 3-D viewer, download it.
// Talks to the same server's JSON API (/v1/...); no other network access.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var current = null;

  function key() { return $("api-key").value || localStorage.getItem("motiongpt2-key") || ""; }
  function withKey(url) { var k = key(); return k ? url + (url.indexOf("?") < 0 ? "?" : "&") + "key=" + encodeURIComponent(k) : url; }
  function setState(state, message) {
    document.body.dataset.state = state;
    $("status").textContent = message || "";
  }

  function api(method, path, body) {
    var opts = { method: method, headers: {} };
    if (key()) opts.headers["X-API-Key"] = key();
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401) $("key-row").hidden = false;
        if (!r.ok) throw new Error((data && data.error) || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function pose(selectId) {
    var v = $(selectId).value;
    if (!v) return null;
    return { example: v, frame: selectId === "last-pose" ? -1 : 0 };
  }

  function show(result) {
    current = result;
    $("result").hidden = false;
    $("caption").textContent = "";
    var what = result.text ? "“" + result.text + "”" : result.task;
    $("result-info").textContent = what + " — " + result.frames + " frames (" + result.seconds.toFixed(1) +
      " s), seed " + result.seed + (result.problems.length ? " · " + result.problems.join("; ") : "");
    var dl = $("downloads");
    dl.textContent = "";
    [["bvh", "BVH"], ["mp4", "MP4"], ["npz", "SMPL .npz"], ["joints.npy", "joints .npy"],
     ["features.npy", "features .npy"], ["html", "viewer .html"]].forEach(function (f) {
      var a = document.createElement("a");
      a.href = withKey(result.files[f[0]]);
      a.textContent = f[1];
      if (f[0] !== "html") a.setAttribute("download", "");
      else a.target = "_blank";
      dl.appendChild(a);
    });
    $("viewer").src = withKey(result.files.html);
  }

  function refreshRecent() {
    return api("GET", "/v1/results?limit=12").then(function (items) {
      var ol = $("recent");
      ol.textContent = "";
      items.forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = (r.text || r.task) + " (" + r.frames + " frames)";
        li.addEventListener("click", function () { show(r); });
        ol.appendChild(li);
      });
    }).catch(function () {});
  }

  function loadInfo() {
    return api("GET", "/v1/info").then(function (info) {
      $("model-info").textContent = "model " + info.model.split("/").slice(-2).join("/") + " · up to " +
        info.max_frames + " frames at " + info.fps + " fps";
      $("length").max = info.max_frames;
      $("length").step = info.frames_per_token;
      $("text").maxLength = info.max_text_chars;
      return api("GET", "/v1/examples");
    }).then(function (examples) {
      ["init-pose", "last-pose"].forEach(function (id) {
        examples.forEach(function (ex) {
          var o = document.createElement("option");
          o.value = ex.id;
          o.textContent = ex.id + (ex.caption ? ": " + ex.caption.slice(0, 50) : "");
          $(id).appendChild(o);
        });
      });
      setState("idle", "");
    }).catch(function (err) {
      setState("error", err.message + " — retrying");
      setTimeout(loadInfo, 2000);
    });
  }

  $("generate-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if ($("api-key").value) localStorage.setItem("motiongpt2-key", $("api-key").value);
    var body = { text: $("text").value, seed: parseInt($("seed").value || "0", 10) };
    if ($("length").value) body.length = parseInt($("length").value, 10);
    var init = pose("init-pose"), last = pose("last-pose");
    if (init && last) { setState("error", "pick an initial or a last pose, not both"); return; }
    if (init) body.init_pose = init;
    if (last) body.last_pose = last;
    var t0 = performance.now();
    $("generate").disabled = true;
    setState("running", "generating…");
    api("POST", "/v1/generate", body).then(function (result) {
      show(result);
      setState("done", "done in " + ((performance.now() - t0) / 1000).toFixed(1) + " s (batch of " +
        result.batch_size + ")");
      refreshRecent();
    }).catch(function (err) {
      setState("error", err.message);
    }).then(function () { $("generate").disabled = false; });
  });

  $("describe").addEventListener("click", function () {
    if (!current || !current.id) return;
    $("caption").textContent = "describing…";
    api("POST", "/v1/caption", { motion: { result: current.id } }).then(function (r) {
      $("caption").textContent = "“" + r.caption + "”";
    }).catch(function (err) { $("caption").textContent = err.message; });
  });

  if (localStorage.getItem("motiongpt2-key")) $("api-key").value = localStorage.getItem("motiongpt2-key");
  loadInfo();
  refreshRecent();
})();
