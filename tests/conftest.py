"""Shared fixtures: a private model cache, pinned threads, a tiny random VLM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before torch spins up its pools: tiny models are far slower with oversubscribed threads.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or write the user's ~/.cache/seethink."""
    os.environ["SEETHINK_CACHE"] = str(tmp_path_factory.mktemp("seethink-cache"))
    from seethink.utils import pin_threads

    pin_threads(int(os.environ.get("SEETHINK_THREADS", "0")) or 2)  # 1 when other jobs share the cores


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built (random) tiny Qwen2-VL, saved once per session."""
    from seethink.toyworld.model import build_toy

    return build_toy(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run `seethink ARGS...` in-process; returns (exit code, stdout, stderr)."""
    import sys

    from seethink.cli import main

    def run(args: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["seethink", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def openai_server():
    """A loopback OpenAI-compatible chat endpoint: `start(answer)` -> (base URL, calls seen).

    `answer(prompt)` gives the reply's text; raising RuntimeError answers HTTP 500. Every call
    is recorded as {"auth": Authorization header, "body": request JSON}.
    """
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def start(answer):
        calls: list[dict] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    calls.append({"auth": self.headers.get("Authorization"), "body": body})
                try:
                    text = answer(body["messages"][0]["content"])
                except RuntimeError:
                    self.send_response(500)
                    self.end_headers()
                    return
                out = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_port}/v1", calls

    yield start
    for httpd in servers:
        httpd.shutdown()


@pytest.fixture(scope="session")
def golden():
    """tests/golden/regenerate.py as a module: the renderers the golden files are compared with."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("golden_regenerate", REPO / "tests" / "golden" / "regenerate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
