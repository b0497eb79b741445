"""What a server is allowed to do: model, batching, limits, output folder (``motiongpt2 serve`` options)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MotionGPT2Error

API_KEY_ENV = "MOTIONGPT2_API_KEY"


@dataclass
class ServeSettings:
    """Settings of one server process.

    Attributes:
        model: a ``train-lm`` run / step / ``save_pretrained`` folder (``None``: the bundled default).
        host, port: where to listen; ``127.0.0.1`` (loopback only) unless told otherwise.
        device, quantize, threads: how the model runs (``threads``: torch intra-op threads, 0 = torch's default).
        max_batch: most requests decoded together (1 = no batching).
        max_wait_ms: how long the first request of a batch waits for others to join.
        queue_size: requests waiting for the model beyond which new ones get 429.
        max_concurrency: open HTTP requests beyond which new connections get 503 (uvicorn).
        timeout_s: a request not answered within this many seconds gets 504 (and is dropped if not started).
        out_dir: the only folder the server writes (results and uploads); cleaned by ``max_age_s`` / ``max_bytes``.
        api_key: when set, every ``/v1`` call needs it (``X-API-Key`` header or ``?key=``); default from
            ``$MOTIONGPT2_API_KEY``.
        examples: a prepared dataset folder whose test clips the page offers as initial / last poses.
        max_text_chars, max_texts, max_key_poses, max_upload_bytes, max_body_bytes: input size limits.
        max_renders: mp4 / viewer renderings running at once (more wait, up to ``timeout_s``).
    """

    model: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "cpu"
    quantize: str | None = None
    threads: int = 0
    max_batch: int = 8
    max_wait_ms: float = 50.0
    queue_size: int = 64
    max_concurrency: int = 128
    timeout_s: float = 120.0
    out_dir: Path = field(default_factory=lambda: Path("serve_out"))
    max_age_s: float = 24 * 3600.0
    max_bytes: int = 2 * 2**30
    api_key: str | None = field(default_factory=lambda: os.environ.get(API_KEY_ENV) or None)
    examples: Path | None = None
    max_examples: int = 40
    max_text_chars: int = 1000
    max_texts: int = 8
    max_key_poses: int = 16
    max_upload_bytes: int = 16 * 2**20
    max_body_bytes: int = 2 * 2**20
    max_renders: int = 2

    def check(self) -> "ServeSettings":
        """Refuse settings that cannot work, one line naming the option; returns ``self``."""
        checks = [
            (1 <= self.max_batch <= 256, "--max-batch must be between 1 and 256"),
            (0 <= self.max_wait_ms <= 10_000, "--max-wait-ms must be between 0 and 10000"),
            (1 <= self.queue_size <= 100_000, "--queue-size must be between 1 and 100000"),
            (1 <= self.max_concurrency, "--max-concurrency must be at least 1"),
            (0 < self.timeout_s <= 3600, "--timeout must be between 0 and 3600 seconds"),
            (0 <= self.port <= 65535, "--port must be between 0 and 65535"),
            (self.max_age_s > 0 and self.max_bytes > 0, "--max-age and --max-mb must be positive"),
            (self.threads >= 0, "--threads must be 0 (torch default) or more"),
            (self.max_renders >= 1, "max_renders must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise MotionGPT2Error(message)
        if self.api_key is not None and len(self.api_key) < 8:
            raise MotionGPT2Error(f"the API key is {len(self.api_key)} characters long: use at least 8 "
                                  f"(--api-key or ${API_KEY_ENV})")
        if self.examples is not None and not Path(self.examples).is_dir():
            raise MotionGPT2Error(f"--examples {self.examples}: not a folder — pass a prepared dataset folder")
        return self
