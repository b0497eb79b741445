"""``motiongpt2 serve``: a real uvicorn server on loopback over a tiny model (random LLaMA, hidden 64, the
real SmolLM2 tokenizer, a tiny motion tokenizer); HTTP requests with httpx; the web page in headless
Chromium driven over the DevTools protocol (skipped when Chromium is not installed)."""
from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from motiongpt2.errors import MotionGPT2Error
from motiongpt2.serve import ServeSettings, create_app
from motiongpt2.serve.store import ResultStore
from motiongpt2.serve.worker import Job, ModelWorker, QueueFull

from lm_fixtures import save_tiny_model  # noqa: E402
from test_eval_protocol import _dataset  # noqa: E402

TEXT = "a person walks forward"


# ------------------------------------------------------------------------------ a live server
class LiveServer:
    """uvicorn serving ``app`` on a free loopback port in a thread; ``url``; ``stop()``."""

    def __init__(self, app):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                   limit_concurrency=64))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            assert time.time() < deadline, "the server did not start"
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while httpx.get(self.url + "/readyz").status_code != 200:
            assert time.time() < deadline, "the model did not load"
            time.sleep(0.1)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def walks(tmp_path_factory):
    return _dataset(tmp_path_factory.mktemp("walks"), {"train": 8, "val": 2, "test": 4})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, walks):
    return save_tiny_model(tmp_path_factory.mktemp("lm"), walks)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("serve") / "out"


@pytest.fixture(scope="module")
def live(model_dir, walks, out_dir):
    settings = ServeSettings(model=model_dir, out_dir=out_dir, examples=walks, max_batch=8, max_wait_ms=300,
                             timeout_s=60, api_key=None, max_upload_bytes=200_000)
    srv = LiveServer(create_app(settings))
    srv.wait_ready()
    yield srv
    srv.stop()


def post(live, path: str, body=None, **kw) -> httpx.Response:
    return httpx.post(live.url + path, json=body, timeout=60, **kw)


def one_line_error(r: httpx.Response, status: int | tuple) -> str:
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, (r.status_code, r.text)
    msg = r.json()["error"]
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# ------------------------------------------------------------------------------ endpoints
def test_health_ready_info_and_spec(live):
    assert httpx.get(live.url + "/healthz").json()["status"] == "ok"
    assert httpx.get(live.url + "/readyz").json()["ready"] is True
    info = httpx.get(live.url + "/v1/info").json()
    assert info["fps"] == 20.0 and info["frames_per_token"] == 4 and info["max_batch"] == 8
    spec = httpx.get(live.url + "/openapi.json").json()
    for path in ("/v1/generate", "/v1/caption", "/v1/complete", "/v1/compose", "/v1/uploads",
                 "/v1/results/{item}/files/{name}"):
        assert path in spec["paths"], path
    examples = httpx.get(live.url + "/v1/examples").json()
    assert [e["id"] for e in examples] == ["test010", "test011", "test012", "test013"]
    assert examples[0]["caption"].startswith("a person walks")


def test_generate_and_every_download(live, out_dir):
    r = post(live, "/v1/generate", {"text": TEXT, "length": 40, "seed": 3})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["frames"] == 40 and res["task"] == "t2m" and res["text"] == TEXT and len(res["tokens"]) == 10
    files = {name: httpx.get(live.url + url, timeout=120) for name, url in res["files"].items()}
    assert all(f.status_code == 200 for f in files.values()), {k: f.text[:200] for k, f in files.items()}
    assert files["bvh"].content.startswith(b"HIERARCHY") and b"Frames: 40" in files["bvh"].content
    assert 'filename="motion_' in files["bvh"].headers["content-disposition"]
    joints = np.load(io.BytesIO(files["joints.npy"].content))
    assert joints.shape == (40, 22, 3) and np.isfinite(joints).all()
    assert np.load(io.BytesIO(files["features.npy"].content)).shape == (40, 263)
    npz = np.load(io.BytesIO(files["npz"].content))
    assert {"poses", "trans"} <= set(npz.files) and len(npz["trans"]) == 40
    assert files["mp4"].content[4:8] == b"ftyp"
    assert files["html"].headers["content-type"].startswith("text/html") and b"three" in files["html"].content
    # nothing outside the output folder; listed among the recent results
    assert (out_dir / "results" / res["id"] / "motion.bvh").exists()
    assert res["id"] in [x["id"] for x in httpx.get(live.url + "/v1/results").json()]


def test_a_seed_gives_the_same_motion_alone_or_in_a_batch(live):
    alone = post(live, "/v1/generate", {"text": TEXT, "length": 48, "seed": 7}).json()
    assert alone["batch_size"] == 1

    async def together():
        async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
            bodies = [{"text": t, "length": n, "seed": s} for t, n, s in
                      [("someone jumps", 32, 1), (TEXT, 48, 7), ("a person turns left", 60, 2), (TEXT, 48, 8)]]
            return await asyncio.gather(*[client.post("/v1/generate", json=b) for b in bodies])

    results = [r.json() for r in asyncio.run(together())]
    assert max(r["batch_size"] for r in results) > 1, "the concurrent requests were not batched"
    same = results[1]
    assert same["batch_size"] > 1 and same["tokens"] == alone["tokens"]
    assert results[3]["tokens"] != alone["tokens"]          # another seed, another motion
    assert [r["frames"] for r in results] == [32, 48, 60, 48]


def test_pose_controls(live):
    ex = httpx.get(live.url + "/v1/examples").json()[0]["id"]
    init = post(live, "/v1/generate", {"text": TEXT, "length": 40, "init_pose": {"example": ex}})
    assert init.status_code == 200 and init.json()["task"] == "t2m-init", init.text
    last = post(live, "/v1/generate", {"text": TEXT, "length": 40, "last_pose": {"example": ex, "frame": -1}})
    assert last.status_code == 200 and last.json()["task"] == "t2m-last"
    first = init.json()
    keys = post(live, "/v1/generate", {"text": TEXT, "length": 40,
                                       "key_poses": [{"frame": 20, "pose": {"result": first["id"], "frame": 5}}]})
    assert keys.status_code == 200 and keys.json()["task"] == "t2m-key"
    joints = np.load(io.BytesIO(httpx.get(live.url + first["files"]["joints.npy"]).content))
    inline = post(live, "/v1/generate", {"text": TEXT, "length": 40, "init_pose": {"joints": joints[0].tolist()}})
    assert inline.status_code == 200, inline.text


def test_caption_complete_compose_and_uploads(live, walks, tmp_path, out_dir):
    gen = post(live, "/v1/generate", {"text": TEXT, "length": 40, "seed": 1}).json()
    cap = post(live, "/v1/caption", {"motion": {"result": gen["id"]}})
    assert cap.status_code == 200 and cap.json()["task"] == "m2t" and isinstance(cap.json()["caption"], str)
    pred = post(live, "/v1/complete", {"motion": {"result": gen["id"]}, "length": 60})
    assert pred.status_code == 200 and pred.json()["frames"] == 60 and pred.json()["task"] == "predict"
    assert pred.json()["tokens"][:10] == gen["tokens"]                    # the given part is kept
    mid = post(live, "/v1/complete", {"motion": {"result": gen["id"]}, "end": {"result": gen["id"]}, "length": 100})
    assert mid.status_code == 200 and mid.json()["task"] == "inbetween" and mid.json()["frames"] == 100
    comp = post(live, "/v1/compose", {"texts": ["a person walks", "a person jumps"], "lengths": [40, 40]})
    assert comp.status_code == 200 and comp.json()["task"] == "compose" and comp.json()["frames"] >= 70
    # uploads: our joints .npy and a BVH download of a result, then used as motions
    joints = sorted((walks / "new_joints").glob("test*.npy"))[0]
    up = httpx.post(live.url + "/v1/uploads", files={"file": ("walk.npy", joints.read_bytes())}).json()
    assert up["frames"] > 40
    assert post(live, "/v1/caption", {"motion": {"upload": up["id"]}}).status_code == 200
    bvh = httpx.get(live.url + gen["files"]["bvh"]).content
    up2 = httpx.post(live.url + "/v1/uploads", files={"file": ("../../evil name.bvh", bvh)})
    assert up2.status_code == 200 and up2.json()["name"] == "evil name.bvh", up2.text
    assert not (tmp_path.parent / "evil name.bvh").exists()
    assert not any((out_dir / "tmp").iterdir())              # upload scratch files are gone
    assert post(live, "/v1/complete", {"motion": {"upload": up2.json()["id"]}, "length": 60}).status_code == 200


NAN_POSE = '{"text": "walk", "init_pose": {"joints": [[NaN, 0, 0]]}}'
BAD_JSON = [
    ("empty text", {"text": ""}, 422, "text"),
    ("blank text", {"text": "  \n "}, 422, "empty"),
    ("100 kB text", {"text": "a" * 100_000}, 422, "at most"),
    ("negative length", {"text": "walk", "length": -4}, 422, "length"),
    ("too long", {"text": "walk", "length": 100_000}, 422, "maximum"),
    ("length under a token", {"text": "walk", "length": 2}, 422, "shorter than one token"),
    ("seed", {"text": "walk", "seed": -1}, 422, "seed"),
    ("temperature", {"text": "walk", "sampling": {"temperature": 0}}, 422, "temperature"),
    ("unknown field", {"text": "walk", "path": "/etc/passwd"}, 422, "path"),
    ("two controls", {"text": "walk", "init_pose": {"joints": [[0, 0, 0]]}, "last_pose": {"joints": [[0, 0, 0]]}},
     422, "one kind"),
    ("wrong joints", {"text": "walk", "init_pose": {"joints": [[0, 0, 0], [1, 1, 1]]}}, 422, "joints"),
    ("wrong shape", {"text": "walk", "init_pose": {"joints": [[0, 0]]}}, 422, "init_pose.joints"),
    ("wrong features", {"text": "walk", "init_pose": {"features": [1.0, 2.0]}}, 422, "neither"),
    ("huge value", {"text": "walk", "init_pose": {"joints": [[1e30, 0, 0]]}}, 422, "init_pose.joints"),
    ("path as example", {"text": "walk", "init_pose": {"example": "../../etc/passwd"}}, 422, "example"),
    ("unknown example", {"text": "walk", "init_pose": {"example": "nope"}}, 404, "no example"),
    ("unknown result", {"text": "walk", "init_pose": {"result": "0123456789abcdef"}}, 404, "no result"),
    ("frame outside", {"text": "walk", "init_pose": {"example": "test010", "frame": 5000}}, 422, "outside"),
    ("key beyond", {"text": "walk", "length": 40, "key_poses": [{"frame": 90, "pose": {"example": "test010"}}]},
     422, "beyond"),
]


@pytest.mark.parametrize("name,body,status,words", BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_bad_generate_requests_get_one_clear_4xx(live, name, body, status, words):
    msg = one_line_error(post(live, "/v1/generate", body), status)
    assert words in msg, msg


def test_bad_bodies_uploads_and_ids(live):
    h = {"content-type": "application/json"}
    assert "not valid JSON" in one_line_error(httpx.post(live.url + "/v1/generate", content=b"not json", headers=h), 422)
    assert "finite" in one_line_error(httpx.post(live.url + "/v1/generate", content=NAN_POSE, headers=h), 422)
    assert one_line_error(httpx.post(live.url + "/v1/generate", content=b"x" * 3_000_000, headers=h), 413)
    assert "texts" in one_line_error(post(live, "/v1/compose", {"texts": ["a"] * 9}), 422)
    assert "lengths" in one_line_error(post(live, "/v1/compose", {"texts": ["a", "b"], "lengths": [40]}), 422)
    assert "motion" in one_line_error(post(live, "/v1/caption", {"motion": {}}), 422)

    def upload(name, data):
        return httpx.post(live.url + "/v1/uploads", files={"file": (name, data)}, timeout=60)

    msg = one_line_error(upload("take.bvh", b"HIERARCHY\nROOT Hips\n{ garbage \x00\xff"), 422)
    assert "take.bvh" in msg and "/tmp" not in msg
    assert "take.bvh" in one_line_error(upload("take.bvh", b"just some text"), 422)
    assert one_line_error(upload("notes.txt", b"hello"), 415)
    assert one_line_error(upload("empty.npy", b""), 422)
    assert one_line_error(upload("big.bvh", b"x" * 300_000), 413)
    npy = io.BytesIO()
    np.save(npy, np.full((30, 22, 3), np.nan, np.float32))
    assert one_line_error(upload("nan.npy", npy.getvalue()), 422)
    npy = io.BytesIO()
    np.save(npy, np.array(["a", "b"]))
    assert one_line_error(upload("str.npy", npy.getvalue()), 422)
    assert "no result" in one_line_error(httpx.get(live.url + "/v1/results/0123456789abcdef"), 404)
    assert one_line_error(httpx.get(live.url + "/v1/results/..%2F..%2Fetc/files/bvh"), 404)
    gen = post(live, "/v1/generate", {"text": TEXT, "length": 40}).json()
    assert "no download" in one_line_error(httpx.get(f"{live.url}/v1/results/{gen['id']}/files/passwd"), 404)


# ------------------------------------------------------------------------------ limits with a stub model
class StubModel:
    """Blocks in ``generate_batch`` until released; answers each request with a MotionGPT2Error."""

    def __init__(self):
        self.release = threading.Event()
        self.calls: list[int] = []

    def generate_batch(self, requests, **kw):
        self.calls.append(len(requests))
        self.release.wait(30)
        return [MotionGPT2Error("stub") for _ in requests]


def test_queue_full_gives_429_and_slow_requests_504(tmp_path):
    stub = StubModel()
    settings = ServeSettings(out_dir=tmp_path / "out", max_batch=1, max_wait_ms=0, queue_size=1, timeout_s=1.5)
    srv = LiveServer(create_app(settings, load_model=lambda: stub))
    try:
        srv.wait_ready()

        async def burst():
            async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
                return await asyncio.gather(*[client.post("/v1/generate", json={"text": "walk", "seed": i})
                                              for i in range(6)])

        codes = sorted(r.status_code for r in asyncio.run(burst()))
        assert codes.count(429) >= 3 and set(codes) <= {429, 504}, codes
        assert stub.calls == [1]                       # the timed-out queued request was dropped, not run
        stub.release.set()
        time.sleep(0.3)
        r = post(srv, "/v1/generate", {"text": "walk"})
        assert r.status_code == 422 and r.json()["error"] == "stub"
        ready = httpx.get(srv.url + "/readyz").json()
        assert ready["dropped"] >= 1
    finally:
        stub.release.set()
        srv.stop()


def test_not_ready_and_failed_load_give_503(tmp_path):
    gate = threading.Event()

    def slow_load():
        gate.wait(30)
        raise RuntimeError("weights missing")

    srv = LiveServer(create_app(ServeSettings(out_dir=tmp_path / "o"), load_model=slow_load))
    try:
        r = post(srv, "/v1/generate", {"text": "walk"})
        assert r.status_code == 503 and "loading" in r.json()["error"] and r.headers["retry-after"]
        assert httpx.get(srv.url + "/healthz").status_code == 200
        gate.set()
        time.sleep(0.3)
        r = httpx.get(srv.url + "/readyz")
        assert r.status_code == 503 and "weights missing" in r.json()["error"]
    finally:
        gate.set()
        srv.stop()


def test_api_key(tmp_path):
    srv = LiveServer(create_app(ServeSettings(out_dir=tmp_path / "o", api_key="s3cret-key"),
                                load_model=StubModel))
    try:
        srv.wait_ready()
        assert "API key" in one_line_error(httpx.get(srv.url + "/v1/results"), 401)
        assert httpx.get(srv.url + "/v1/results", headers={"X-API-Key": "wrong-key"}).status_code == 401
        assert httpx.get(srv.url + "/v1/results", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert httpx.get(srv.url + "/v1/results?key=s3cret-key").status_code == 200
        assert httpx.get(srv.url + "/v1/results", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        assert httpx.get(srv.url + "/healthz").status_code == 200 and httpx.get(srv.url + "/").status_code == 200
    finally:
        srv.stop()


def test_settings_are_checked(tmp_path):
    with pytest.raises(MotionGPT2Error, match="max-batch"):
        ServeSettings(out_dir=tmp_path, max_batch=0).check()
    with pytest.raises(MotionGPT2Error, match="at least 8"):
        ServeSettings(out_dir=tmp_path, api_key="short").check()
    with pytest.raises(MotionGPT2Error, match="--examples"):
        ServeSettings(out_dir=tmp_path, examples=tmp_path / "none").check()


# ------------------------------------------------------------------------------ worker and store units
class EchoModel:
    def __init__(self):
        self.batches: list[list] = []

    def generate_batch(self, requests, **kw):
        self.batches.append(list(requests))
        return [(r, kw["temperature"]) for r in requests]


def test_worker_batches_by_sampling_key_and_drops_abandoned_jobs():
    model = EchoModel()
    worker = ModelWorker(lambda: model, max_batch=3, max_wait_ms=200, queue_size=8).start()
    worker.ready.wait(5)

    async def scenario():
        a = [Job(request=i, key=(False, 1.0, 0, 1.0)) for i in range(4)]
        b = Job(request="hot", key=(False, 2.0, 0, 1.0))
        gone = Job(request="gone", key=(False, 1.0, 0, 1.0))
        futures = [worker.submit(j) for j in (a[0], a[1], b, gone, a[2], a[3])]
        gone.abandoned = True
        return [await f for i, f in enumerate(futures) if i != 3]

    try:
        out = asyncio.run(scenario())
    finally:
        worker.stop()
    values = [v for v, _ in out]
    assert values == [(0, 1.0), (1, 1.0), ("hot", 2.0), (2, 1.0), (3, 1.0)]
    assert model.batches == [[0, 1, 2], ["hot"], [3]]          # max 3 per batch, keys never mixed
    assert worker.stats["dropped"] == 1 and out[0][1]["batch_size"] == 3


def test_worker_queue_bound():
    release = threading.Event()
    worker = ModelWorker(lambda: release.wait(10) and None, queue_size=2).start()

    async def fill():
        worker.submit(Job(request=1))
        worker.submit(Job(request=2))
        with pytest.raises(QueueFull):
            worker.submit(Job(request=3))

    try:
        asyncio.run(fill())
    finally:
        release.set()
        worker.stop()


def test_store_cleans_by_age_and_size(tmp_path):
    store = ResultStore(tmp_path, max_age_s=3600, max_bytes=10**9, clean_every_s=0)
    f, j = np.zeros((40, 263), np.float32), np.zeros((40, 22, 3), np.float32)
    ids = [store.save_motion(f, j, {"task": "t2m", "text": str(i), "fps": 20.0}) for i in range(4)]
    assert [m["id"] for m in store.recent()] == ids[::-1]
    old = store.results / ids[0]
    past = time.time() - 7200
    import os

    os.utime(old, (past, past))
    assert store.clean(force=True) == 1 and not old.exists()
    size = sum(p.stat().st_size for p in store.results.rglob("*") if p.is_file())
    store.max_bytes = size // 2
    assert store.clean(force=True) >= 1
    assert sum(p.stat().st_size for p in store.results.rglob("*") if p.is_file()) <= size // 2
    assert store.folder("result", ids[-1]) is not None           # the newest is kept
    assert store.folder("result", "../" + ids[-1]) is None and store.download(ids[-1], "../meta.json") is None
    json.loads((store.results / ids[-1] / "meta.json").read_text())


# ------------------------------------------------------------------------------ the web page in Chromium
def test_page_generates_and_draws_the_figure(live, tmp_path):
    """Type a prompt, pick an initial pose, click Generate: the viewer draws the figure (coloured bones in
    the screenshot's viewer area) and the download links appear."""
    import imageio.v3 as iio

    from cdp import Browser
    from tooling import require_tool

    chromium = require_tool("chromium")
    with Browser(chromium, tmp_path / "profile") as page:
        page.goto(live.url + "/")
        page.wait_for("document.getElementById('init-pose').options.length > 1")
        page.type_into("#text", "a person walks forward and waves")
        page.eval("document.getElementById('length').value = 60;"
                  "document.getElementById('init-pose').selectedIndex = 1; true")
        page.click("#generate")
        state = page.wait_for("document.body.dataset.state !== 'running' && document.body.dataset.state !== 'idle'"
                              " && document.body.dataset.state", timeout=120)
        assert state == "done", page.eval("document.getElementById('status').textContent")
        assert "60 frames" in page.eval("document.getElementById('result-info').textContent")
        links = page.eval("[...document.querySelectorAll('#downloads a')].map(a => a.textContent + ' ' + a.href)")
        assert any(x.startswith("BVH ") and x.endswith("/files/bvh") for x in links), links
        assert any(x.startswith("MP4 ") for x in links)
        page.wait_for("(() => { const d = document.getElementById('viewer').contentDocument;"
                      " return d && d.readyState === 'complete' && !!d.querySelector('canvas'); })()", timeout=60)
        time.sleep(2.0)                                  # a few animation frames
        shot = tmp_path / "page.png"
        shot.write_bytes(page.screenshot())
        recent = page.eval("document.querySelectorAll('#recent li').length")
    img = iio.imread(shot)[..., :3].astype(np.int16)
    rect_x = img.shape[1] * 0.45                         # the viewer fills the right side of the page
    stage = img[:, int(rect_x):]
    coloured = ((stage.max(-1) - stage.min(-1)) > 80).sum()
    assert coloured > 150, f"the figure is not drawn ({coloured} coloured pixels; screenshot {shot})"
    assert recent >= 1


def test_serve_command_refuses_bad_options_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from motiongpt2.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["serve", "-m", str(tmp_path / "missing"), "--port", "0"])
    assert res.exit_code == 2 and "no such folder" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["serve", "-m", str(tmp_path), "--max-batch", "0"])
    assert res.exit_code == 2 and "--max-batch" in res.output
    res = runner.invoke(app, ["serve", "--help"])
    assert res.exit_code == 0 and "Example" in res.output
