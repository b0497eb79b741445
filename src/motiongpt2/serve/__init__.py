"""Serving: ``motiongpt2 serve`` — an HTTP API with request batching and a web page (:mod:`.app`).

One process, one model thread (:mod:`.worker`), one output folder (:mod:`.store`); every field is
checked before work starts (:mod:`.schemas`); limits in :class:`.settings.ServeSettings`.
"""
from .settings import ServeSettings

__all__ = ["ServeSettings", "create_app", "run_server"]


def create_app(settings: ServeSettings, load_model=None):
    """The FastAPI app (:func:`.app.create_app`; imported lazily: FastAPI is only needed to serve)."""
    from .app import create_app as _create

    return _create(settings, load_model)


def run_server(settings: ServeSettings, load_model=None, log_level: str = "info") -> None:
    """Serve ``settings`` with uvicorn until interrupted (one process: the model lives in it)."""
    import uvicorn

    app = create_app(settings, load_model)
    uvicorn.run(app, host=settings.host, port=settings.port, limit_concurrency=settings.max_concurrency,
                timeout_keep_alive=5, log_level=log_level, workers=1)
