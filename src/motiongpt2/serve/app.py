"""The HTTP server (FastAPI): JSON endpoints over :class:`~motiongpt2.lm.model.MotionGPT2`, downloads,
and the web page.

Endpoints (all under ``/v1`` need the API key when one is set)::

    GET  /healthz                 the process answers
    GET  /readyz                  200 once the model is loaded (503 before, with the reason if it failed)
    GET  /openapi.json            the OpenAPI spec
    GET  /                        the web page (type, watch, download)
    GET  /v1/info                 model and limits
    GET  /v1/examples             example clips offered as poses
    POST /v1/generate             text (+ initial / last / key poses) -> motion
    POST /v1/caption              motion -> text
    POST /v1/complete             prediction (no end) or in-betweening (with end)
    POST /v1/compose              several texts -> one continuous motion
    POST /v1/uploads              multipart ``file``: a BVH or our .npy (joints (T,J,3) / features (T,D))
    GET  /v1/results              recent results
    GET  /v1/results/{id}         one result
    GET  /v1/results/{id}/files/{name}   bvh | npz | joints.npy | features.npy | mp4 | html

Errors are JSON ``{"error": "<one line>"}``: 400/413/415/422 for bad input, 401 without the key, 404
for unknown ids, 429 when the queue is full (``Retry-After``), 503 while loading, 504 on timeout; a bug
gives 500 with one line, its traceback goes to ``OUT/errors.log``.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import re
import tempfile
import time
import traceback
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import MotionGPT2Error
from .schemas import (CaptionBody, CompleteBody, ComposeBody, GenerateBody, MotionRef, Pose, ResultInfo, Sampling,
                      clean_text, error_line)
from .settings import ServeSettings
from .store import DOWNLOADS, ResultStore
from .worker import Job, ModelWorker, QueueFull

__all__ = ["ApiError", "create_app"]

log = logging.getLogger("motiongpt2.serve")
UPLOAD_SUFFIXES = (".bvh", ".npy")


class ApiError(Exception):
    """An answer other than 200: ``status`` and one line; ``headers`` (e.g. ``Retry-After``)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# ------------------------------------------------------------------------------ limits (ASGI)
class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before they are read in full (uploads get
    ``upload_limit``); counts the bytes actually received, not only ``Content-Length``."""

    def __init__(self, app, limit: int, upload_limit: int):
        self.app, self.limit, self.upload_limit = app, int(limit), int(upload_limit)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limit if scope["path"].rstrip("/") == "/v1/uploads" else self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _send_error(send, 413, f"the request body is {int(declared)} bytes: at most {limit}")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _send_error(send, 413, f"the request body is over {limit} bytes")


class _TooLarge(Exception):
    pass


async def _send_error(send, status: int, message: str) -> None:
    body = JSONResponse({"error": message}, status_code=status).body
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------------------ the app
class Server:
    """State of one app: settings, the model worker, the result store and the example clips."""

    def __init__(self, settings: ServeSettings, load_model=None):
        self.settings = settings.check()
        self.store = ResultStore(Path(settings.out_dir), settings.max_age_s, settings.max_bytes)
        self.worker = ModelWorker(load_model or self._load_model, settings.max_batch, settings.max_wait_ms,
                                  settings.queue_size)
        self.renders = asyncio.Semaphore(settings.max_renders)
        self.examples: dict[str, dict] = {}
        self.started = time.time()

    def _load_model(self):
        import torch

        from ..api import load_lm

        if self.settings.threads:
            torch.set_num_threads(self.settings.threads)
        lm = load_lm(self.settings.model, self.settings.device, quantize=self.settings.quantize)
        lm.batch_size = self.settings.max_batch
        self._load_examples(lm)
        return lm

    def _load_examples(self, lm) -> None:
        """Test clips of ``settings.examples`` whose features fit the model (at most ``max_examples``)."""
        if self.settings.examples is None:
            return
        from ..data.readers import open_dataset

        ds = open_dataset(self.settings.examples, split="test", lazy=True)
        for i, sid in enumerate(ds.ids[: self.settings.max_examples]):
            sample = ds[i]
            if sample.features.ndim != 2 or sample.features.shape[1] != lm.dim:
                continue
            texts = ds.texts(i)
            self.examples[sid] = {"id": sid, "caption": texts[0].caption if texts else "",
                                  "frames": int(sample.length), "features": np.asarray(sample.features, np.float32)}

    @property
    def model(self):
        if self.worker.error is not None:
            raise ApiError(503, f"the model failed to load ({self.worker.error}); see the server's log")
        if not self.worker.ready.is_set():
            raise ApiError(503, "the model is loading: retry in a few seconds", {"Retry-After": "2"})
        return self.worker.model

    # ------------------------------------------------------------------ inputs
    def motion_of(self, ref: MotionRef, where: str):
        """Features ``(T, D)`` of an upload / example reference, or the :class:`~motiongpt2.lm.model.Motion`
        of a result (its own tokens, so a result is continued exactly); 404 when unknown."""
        if ref.example is not None:
            ex = self.examples.get(ref.example)
            if ex is None:
                raise ApiError(404, f"{where}: no example clip {ref.example!r} (see GET /v1/examples)")
            return ex["features"]
        kind, item = ("result", ref.result) if ref.result is not None else ("upload", ref.upload)
        feats = self.store.features(kind, item)
        meta = self.store.meta(kind, item)
        if feats is None or meta is None:
            raise ApiError(404, f"{where}: no {kind} {item!r} (it may have been cleaned up)")
        if kind == "result" and meta.get("tokens"):
            from ..lm.model import Motion

            return Motion(feats, np.zeros((len(feats), 0, 3), np.float32), np.asarray(meta["tokens"], np.int64),
                          float(meta.get("fps", 20.0)), meta.get("text", ""))
        return feats

    def pose_of(self, pose: Pose, where: str):
        from ..lm.model import PoseRef

        if pose.joints is not None:
            return np.asarray(pose.joints, np.float32)
        if pose.features is not None:
            return np.asarray(pose.features, np.float32)
        return PoseRef(self.motion_of(pose, where), pose.frame)

    # ------------------------------------------------------------------ running model work
    async def run(self, job: Job) -> tuple[Any, dict]:
        """Queue ``job`` and wait for it (429 when the queue is full, 504 past ``timeout_s``); model
        errors caused by the request become 422."""
        self.model                                        # 503 unless ready
        try:
            future = self.worker.submit(job)
        except QueueFull:
            raise ApiError(429, f"the server is busy ({self.settings.queue_size} requests waiting): retry shortly",
                           {"Retry-After": "1"}) from None
        try:
            value, info = await asyncio.wait_for(asyncio.shield(future), self.settings.timeout_s)
        except asyncio.TimeoutError:
            job.abandoned = True
            raise ApiError(504, f"no answer within {self.settings.timeout_s:g} s: try a shorter motion or retry "
                                "later") from None
        except asyncio.CancelledError:
            job.abandoned = True                          # the client went away: drop it if not started
            raise
        if isinstance(value, MotionGPT2Error):
            raise ApiError(422, str(value))
        if isinstance(value, Exception):
            raise value
        return value, info

    async def respond_motion(self, motion, info: dict, task: str, text: str, seed: int) -> dict:
        meta = {"task": task, "text": text, "frames": motion.frames, "fps": float(motion.fps),
                "seconds": round(motion.seconds, 3), "seed": int(seed), "problems": list(motion.problems),
                "batch_size": info["batch_size"], "queue_ms": round(info["queue_ms"], 1),
                "compute_ms": round(info["compute_ms"], 1), "tokens": np.asarray(motion.tokens).tolist()}
        item = await run_in_threadpool(self.store.save_motion, motion.features, motion.joints, meta)
        return self.result_info(self.store.meta("result", item))

    def result_info(self, meta: dict) -> dict:
        files = {name: f"/v1/results/{meta['id']}/files/{name}" for name in DOWNLOADS}
        fields = {k: meta[k] for k in ResultInfo.model_fields if k in meta and k != "files"}
        return {**ResultInfo(**fields, files=files).model_dump(), "tokens": meta.get("tokens")}


def create_app(settings: ServeSettings, load_model=None) -> FastAPI:
    """The FastAPI app of ``settings``; ``load_model()`` (default: :func:`~motiongpt2.api.load_lm` of
    ``settings.model``) runs on the model thread at start-up."""
    server = Server(settings, load_model)

    @asynccontextmanager
    async def lifespan(app):
        server.worker.start()
        yield
        server.worker.stop()

    app = FastAPI(title="motiongpt2", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="MotionGPT-2 motion-language model: text to motion, captions, completion.")
    app.state.server = server
    _install_errors(app, server)
    _install_key_check(app, settings)
    _install_routes(app, server)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    return app


def _install_errors(app: FastAPI, server: Server) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return JSONResponse({"error": err.message}, status_code=err.status, headers=err.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        errors = err.errors()
        return JSONResponse({"error": error_line(errors),
                             "detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors[:20]]},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code, headers=err.headers)

    @app.exception_handler(Exception)
    async def bug(request: Request, err: Exception):
        log_path = Path(server.settings.out_dir) / "errors.log"
        try:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {request.method} {request.url.path}\n")
                f.write("".join(traceback.format_exception(err)))
        except OSError:
            pass
        return JSONResponse({"error": f"internal error ({type(err).__name__}); the traceback is in {log_path}"},
                            status_code=500)


def _install_key_check(app: FastAPI, settings: ServeSettings) -> None:
    if not settings.api_key:
        return
    expected = settings.api_key.encode()

    @app.middleware("http")
    async def key_check(request: Request, call_next):
        if request.url.path.startswith("/v1/"):
            given = request.headers.get("x-api-key") or request.query_params.get("key") or ""
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if not hmac.compare_digest(given.encode(), expected):
                return JSONResponse({"error": "missing or wrong API key: send it as the X-API-Key header"},
                                    status_code=401)
        return await call_next(request)


def _page(name: str) -> str:
    return resources.files("motiongpt2.serve").joinpath("page", name).read_text(encoding="utf-8")


_PAGE_TYPES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


def _install_routes(app: FastAPI, server: Server) -> None:
    s = server.settings

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(_page("index.html"))

    @app.get("/page/{name}", include_in_schema=False)
    async def page_file(name: str):
        if name not in _PAGE_TYPES:
            raise ApiError(404, f"no page file {name!r}")
        return Response(_page(name), media_type=_PAGE_TYPES[name])

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "uptime_s": round(time.time() - server.started, 1)}

    @app.get("/readyz")
    async def readyz():
        server.model
        return {"ready": True, "waiting": server.worker.waiting, **server.worker.stats}

    @app.get("/v1/info")
    async def info():
        lm = server.model
        return {"model": str(lm.path), "fps": lm.fps, "frames_per_token": lm.unit,
                "max_frames": lm.max_tokens * lm.unit, "feature_dim": lm.dim, "streams": lm.n_streams,
                "joints": int(lm.skeleton.n_joints) if lm.skeleton is not None else None,
                "max_batch": s.max_batch, "max_wait_ms": s.max_wait_ms, "queue_size": s.queue_size,
                "timeout_s": s.timeout_s, "max_text_chars": s.max_text_chars, "max_texts": s.max_texts,
                "max_upload_bytes": s.max_upload_bytes, "api_key": bool(s.api_key)}

    @app.get("/v1/examples")
    async def examples():
        server.model
        return [{k: v for k, v in ex.items() if k != "features"} for ex in server.examples.values()]

    @app.post("/v1/generate")
    async def generate(body: GenerateBody) -> dict:
        from ..lm.model import GenerateRequest

        text = _text(body.text, s.max_text_chars, "text")
        keys = None
        if body.key_poses is not None:
            if len(body.key_poses) > s.max_key_poses:
                raise ApiError(422, f"key_poses: {len(body.key_poses)} given, at most {s.max_key_poses}")
            keys = [(k.frame, server.pose_of(k.pose, f"key_poses[{i}]")) for i, k in enumerate(body.key_poses)]
        request = GenerateRequest(text, init_pose=server.pose_of(body.init_pose, "init_pose") if body.init_pose else None,
                                  last_pose=server.pose_of(body.last_pose, "last_pose") if body.last_pose else None,
                                  key_poses=keys, length=body.length, seed=body.seed)
        motion, info = await server.run(Job(request=request, key=body.sampling.key()))
        return await server.respond_motion(motion, info, motion.meta.get("task", "t2m"), text, body.seed)

    @app.post("/v1/caption")
    async def caption(body: CaptionBody) -> dict:
        from ..lm.model import CaptionRequest

        request = CaptionRequest(server.motion_of(body.motion, "motion"), seed=body.seed)
        text, info = await server.run(Job(request=request, key=Sampling(greedy=True).key()))
        return {**ResultInfo(task="m2t", caption=str(text), seed=body.seed, problems=list(text.problems),
                             batch_size=info["batch_size"], queue_ms=round(info["queue_ms"], 1),
                             compute_ms=round(info["compute_ms"], 1), created=time.time()).model_dump()}

    @app.post("/v1/complete")
    async def complete(body: CompleteBody) -> dict:
        from ..lm.model import InbetweenRequest, PredictRequest

        start = server.motion_of(body.motion, "motion")
        if body.end is None:
            request, task = PredictRequest(start, length=body.length, seed=body.seed), "predict"
        else:
            request, task = InbetweenRequest(start, server.motion_of(body.end, "end"), length=body.length,
                                             seed=body.seed), "inbetween"
        motion, info = await server.run(Job(request=request, key=body.sampling.key()))
        return await server.respond_motion(motion, info, task, "", body.seed)

    @app.post("/v1/compose")
    async def compose(body: ComposeBody) -> dict:
        if len(body.texts) > s.max_texts:
            raise ApiError(422, f"texts: {len(body.texts)} given, at most {s.max_texts}")
        texts = [_text(t, s.max_text_chars, f"texts[{i}]") for i, t in enumerate(body.texts)]
        motion, info = await server.run(Job(call=lambda lm: lm.compose(texts, lengths=body.lengths, seed=body.seed,
                                                                       blend_frames=body.blend_frames)))
        return await server.respond_motion(motion, info, "compose", " / ".join(texts), body.seed)

    @app.post("/v1/uploads")
    async def upload(file: UploadFile = File(..., description="a BVH, or our .npy (joints (T,J,3) / features (T,D))")):
        server.model
        name = Path(file.filename or "").name
        suffix = Path(name.lower()).suffix
        if suffix not in UPLOAD_SUFFIXES:
            raise ApiError(415, f"file {name!r}: upload a .bvh or a .npy (joints (T,J,3) or features (T,D))")
        data = await file.read(s.max_upload_bytes + 1)
        if len(data) > s.max_upload_bytes:
            raise ApiError(413, f"file {name!r} is over {s.max_upload_bytes} bytes")
        if not data:
            raise ApiError(422, f"file {name!r} is empty")
        async with server.renders:
            feats = await run_in_threadpool(_features_of_upload, server.model, data, suffix, name, server.store.scratch)
        item = await run_in_threadpool(server.store.save_upload, feats,
                                       {"name": re.sub(r"[^\w.\- ]", "_", name)[:128], "frames": int(len(feats))})
        return {"id": item, "name": name, "frames": int(len(feats)), "motion": {"upload": item}}

    @app.get("/v1/results")
    async def results(limit: int = 20):
        return [server.result_info(m) for m in server.store.recent(max(1, min(int(limit), 200)))]

    @app.get("/v1/results/{item}")
    async def result(item: str):
        meta = server.store.meta("result", item)
        if meta is None:
            raise ApiError(404, f"no result {item!r} (it may have been cleaned up)")
        return server.result_info(meta)

    @app.get("/v1/results/{item}/files/{name}")
    async def result_file(item: str, name: str):
        if name not in DOWNLOADS:
            raise ApiError(404, f"no download {name!r}: use one of {', '.join(DOWNLOADS)}")
        if server.store.folder("result", item) is None:
            raise ApiError(404, f"no result {item!r} (it may have been cleaned up)")
        try:
            async with server.renders:
                path = await asyncio.wait_for(run_in_threadpool(server.store.download, item, name), s.timeout_s)
        except asyncio.TimeoutError:
            raise ApiError(504, f"making {name} took over {s.timeout_s:g} s") from None
        if path is None:
            raise ApiError(404, f"no result {item!r} (it may have been cleaned up)")
        media = DOWNLOADS[name][1]
        if name == "html":
            return FileResponse(path, media_type=media)
        return FileResponse(path, media_type=media, filename=f"motion_{item}.{name}")


def _text(value: str, max_chars: int, where: str) -> str:
    try:
        return clean_text(value, max_chars)
    except ValueError as err:
        raise ApiError(422, f"{where}: {err}") from None


def _features_of_upload(lm, data: bytes, suffix: str, name: str, scratch: Path) -> np.ndarray:
    """Features ``(T, D)`` of an uploaded BVH / .npy (parsed from a private temporary file under ``scratch``,
    inside the server's output folder); 422 with the reader's one-line message when it is not a usable motion."""
    with tempfile.TemporaryDirectory(prefix="upload-", dir=scratch) as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            feats = lm.load_features(str(path))
        except MotionGPT2Error as err:
            raise ApiError(422, f"file {name!r}: {str(err).replace(str(path), 'upload')}") from None
        except (ValueError, OSError, EOFError, KeyError, IndexError) as err:
            raise ApiError(422, f"file {name!r} is not a usable motion ({type(err).__name__}: {err})") from None
    feats = np.asarray(feats, np.float32)
    if feats.ndim != 2 or len(feats) < lm.unit or not np.isfinite(feats).all():
        raise ApiError(422, f"file {name!r}: {len(feats)} frames or non-finite values; a motion needs at least "
                            f"{lm.unit} finite frames")
    return feats
