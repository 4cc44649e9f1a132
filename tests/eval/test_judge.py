"""The optional OpenAI-compatible judge, against a tiny chat-completions server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from seethink.errors import UserError
from seethink.eval.judge import Judge, judge_mathvista

SECRET = "sk-test-never-logged"


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.calls.append({"auth": self.headers.get("Authorization"), "body": body})
        answer = self.answer(body["messages"][0]["content"])
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def answer(self, prompt: str) -> str:
        """A stand-in "LLM": the last boxed value of the model response, else NONE."""
        resp = prompt.split("Model response:", 1)[1]
        return resp.rsplit("\\boxed{", 1)[1].split("}", 1)[0] if "\\boxed{" in resp else "NONE"

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[_Handler]):  # noqa: ANN201 - a generator for fixtures
    """Run `handler` on a loopback port for one test; yields the base URL."""
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Handler.calls.clear()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


@pytest.fixture
def server():
    yield from serve(_Handler)


def test_judge_caches_and_keeps_the_key_out_of_files(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", SECRET)
    cache = tmp_path / "judge_cache.jsonl"
    j = Judge(server, "stand-in", api_key_env="MY_JUDGE_KEY", cache_path=cache)
    prompt = "Question: q\nModel response: so \\boxed{42}\nFinal answer:"
    assert j.ask(prompt) == "42"
    assert j.ask(prompt) == "42"
    assert len(_Handler.calls) == 1 and _Handler.calls[0]["auth"] == f"Bearer {SECRET}"
    again = Judge(server, "stand-in", api_key_env="MY_JUDGE_KEY", cache_path=cache)
    assert again.ask(prompt) == "42" and len(_Handler.calls) == 1  # served from the disk cache
    assert SECRET not in cache.read_text()


def test_unreachable_endpoint_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", SECRET)
    j = Judge("http://127.0.0.1:9/v1", "m", api_key_env="MY_JUDGE_KEY", timeout_s=2)
    with pytest.raises(UserError, match="unreachable") as exc:
        j.ask("x")
    assert SECRET not in str(exc.value)


def test_judge_fills_mathvista_extractions(server, tmp_path):
    from conftest import SHARED

    data = SHARED / "benchmarks" / "mathvista"
    if not (data / "testmini.json").is_file():
        pytest.skip("../shared/benchmarks/mathvista is not beside this clone")
    from seethink.eval.benchmarks import load, score_file

    items = load("mathvista", data)[:4]
    rows = {it["id"]: {"pid": it["id"], "response": f"Thinking... \\boxed{{{it['answer']}}}"} for it in items}
    src = tmp_path / "results.json"
    src.write_text(json.dumps(rows))
    out = tmp_path / "judged.json"
    stats = judge_mathvista(src, out, Judge(server, "stand-in", cache_path=tmp_path / "c.jsonl"), data_dir=data)
    assert stats == {"rows": 4, "judged": 4}
    judged = json.loads(out.read_text())
    assert all("extraction" in r for r in judged.values())
    metrics = score_file("mathvista", out, data)
    assert metrics["total"] == 4 and metrics["correct"] == 4


def test_judge_command(server, tmp_path, cli, monkeypatch):
    from conftest import SHARED

    data = SHARED / "benchmarks" / "mathvista"
    if not (data / "testmini.json").is_file():
        pytest.skip("../shared/benchmarks/mathvista is not beside this clone")
    monkeypatch.setenv("MY_JUDGE_KEY", SECRET)
    src = tmp_path / "results.json"
    src.write_text(json.dumps({"1": {"pid": "1", "response": "\\boxed{1.2}"}}))
    out = tmp_path / "judged.json"
    code, stdout, err = cli(["judge", "mathvista", str(src), "--out", str(out), "--base-url", server, "--model", "m",
                             "--api-key-env", "MY_JUDGE_KEY", "--data", str(data)])
    assert code == 0, err
    assert "judged 1 of 1" in stdout and SECRET not in stdout + err
    assert json.loads(out.read_text())["1"]["extraction"] == "1.2"
