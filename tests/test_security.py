"""Security defaults: no remote code unless asked, user code only from the file named, API keys
never written anywhere, checkpoints without pickles."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from seethink.config import Recipe, RewardSpec, TrainerSpec, load_recipe
from seethink.errors import UserError

SRC = Path(__file__).resolve().parents[1] / "src" / "seethink"


# ------------------------------------------------------------------ trust_remote_code


def test_trust_remote_code_is_off_unless_the_recipe_opts_in():
    assert Recipe().model.trust_remote_code is False
    assert load_recipe(None, []).model.trust_remote_code is False
    assert load_recipe(None, ["model.trust_remote_code=true"]).model.trust_remote_code is True


def test_no_code_turns_remote_code_on_by_itself():
    offenders = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"trust_remote_code\s*=\s*True", line)]
    assert offenders == []


def test_loading_passes_the_flag_through(tiny_model_dir: Path, monkeypatch):
    import transformers

    from seethink.models.load import load_model

    seen: list[tuple[str, object]] = []
    for cls_name in ("AutoModelForImageTextToText", "AutoProcessor", "AutoTokenizer"):
        cls = getattr(transformers, cls_name)
        real = cls.from_pretrained.__func__

        def spy(klass, *args, _real=real, _name=cls_name, **kwargs):
            seen.append((_name, kwargs.get("trust_remote_code")))
            return _real(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(spy))
    load_model(tiny_model_dir)
    assert seen and all(flag is False for _, flag in seen)
    assert "AutoModelForImageTextToText" in {name for name, _ in seen}
    seen.clear()
    load_model(tiny_model_dir, trust_remote_code=True)
    assert seen and all(flag is True for _, flag in seen)


class _Stop(Exception):
    pass


def test_stages_and_evaluation_hand_the_recipe_flag_to_the_loader(tmp_path: Path, monkeypatch):
    import seethink.models.load as load_mod
    from seethink.eval.run import evaluate_checkpoint
    from seethink.training.stage import run_stage

    flags: list[bool] = []

    def fake_load(path, trust_remote_code=False, dtype="float32"):
        flags.append(trust_remote_code)
        raise _Stop

    monkeypatch.setattr(load_mod, "load_model", fake_load)
    for opted_in in (False, True):
        with pytest.raises(_Stop):
            run_stage(tmp_path, [], TrainerSpec(), RewardSpec(), tmp_path / "s", stage="s", variant="staged",
                      metrics_path=tmp_path / "m.jsonl", trust_remote_code=opted_in)
        recipe = load_recipe(None, [f"model.trust_remote_code={str(opted_in).lower()}"])
        with pytest.raises(_Stop):
            evaluate_checkpoint(tmp_path, [{"id": "x"}], recipe, tmp_path / f"ev{opted_in}")
    assert flags == [False, False, True, True]


# ------------------------------------------------------------------ user code


def test_user_code_comes_only_from_the_file_named(tmp_path: Path, monkeypatch):
    from seethink.data.tasks import get_task
    from seethink.rewards.core import REWARDS, build_reward

    # A module of the same name on the import path must never be picked up.
    on_path = tmp_path / "on_path"
    on_path.mkdir()
    marker = tmp_path / "imported.txt"
    (on_path / "my_reward.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "def score(completion, item):\n    return 0.0\n"
    )
    monkeypatch.syspath_prepend(str(on_path))
    with pytest.raises(UserError, match="unknown reward 'my_reward:score'"):
        REWARDS.get("my_reward:score")
    with pytest.raises(UserError, match="unknown task"):
        get_task("my_reward:score")
    named = tmp_path / "named" / "my_reward.py"
    named.parent.mkdir()
    named.write_text("def score(completion, item):\n    return 0.75\n")
    r = build_reward(extra=[f"{named}:score"])
    try:
        assert r("x", {"answer": "1", "options": []})["score"] == 0.75
    finally:
        r.close()
    assert not marker.exists()
    # The parent process never imported the user's reward file: it runs in the reward worker only.
    assert not [m for m in sys.modules if m.startswith("seethink_user_")
                and str(named) in str(getattr(sys.modules[m], "__file__", ""))]


def test_a_relative_user_path_is_resolved_from_the_working_directory(tmp_path: Path, monkeypatch):
    from seethink.registry import load_user_object

    (tmp_path / "rw.py").write_text("VALUE = 3\n")
    monkeypatch.chdir(tmp_path)
    assert load_user_object("rw.py:VALUE") == 3
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(UserError, match="user code file not found: rw.py"):
        load_user_object("rw.py:VALUE")


# ------------------------------------------------------------------ checkpoints


def test_checkpoints_keep_no_pickles(tmp_path: Path):
    from seethink.storage import strip_pickles

    ckpt = tmp_path / "checkpoint"
    ckpt.mkdir()
    (ckpt / "model.safetensors").write_bytes(b"weights")
    (ckpt / "training_args.bin").write_bytes(b"pickle")
    strip_pickles(ckpt)
    assert sorted(p.name for p in ckpt.iterdir()) == ["model.safetensors"]
    (ckpt / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="pickle files \\(pytorch_model.bin\\)"):
        strip_pickles(ckpt)


# ------------------------------------------------------------------ API keys


SECRET = "sk-secret-for-the-test-7f3a"


def _mathvista(root: Path) -> Path:
    meta = {"split": "testmini", "language": "english", "source": "x", "category": "c", "task": "t",
            "context": "k", "grade": "g", "skills": ["s"]}
    rows = {
        "1": {"question": "How many?", "image": "images/1.jpg", "choices": None, "unit": None, "precision": None,
              "answer": "3", "question_type": "free_form", "answer_type": "integer", "pid": "1", "metadata": meta},
        "2": {"question": "Which?", "image": "images/2.jpg", "choices": ["red", "blue"], "unit": None,
              "precision": None, "answer": "blue", "question_type": "multi_choice", "answer_type": "text",
              "pid": "2", "metadata": meta},
    }
    root.mkdir(parents=True)
    (root / "testmini.json").write_text(json.dumps(rows))
    return root


def test_the_judge_key_is_sent_but_never_written_or_logged(cli, tmp_path: Path, monkeypatch, caplog):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[str | None] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"choices": [{"message": {"content": "3"}}]}).encode()
            self.send_response(status["code"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/v1"
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    data = _mathvista(tmp_path / "mathvista")
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"1": {"pid": "1", "response": "three"}, "2": {"pid": "2", "response": "blue"}}))
    try:
        args = ["judge", "mathvista", str(results), "--base-url", url, "--model", "m", "--api-key-env", "JUDGE_KEY",
                "--data", str(data)]
        code, out, err = cli([*args, "--out", str(tmp_path / "judged.json")])
        assert code == 0, err
        assert seen and all(h == f"Bearer {SECRET}" for h in seen)  # the key was really used
        status["code"] = 401
        code, out2, err2 = cli([*args, "--out", str(tmp_path / "again.json"), "--cache", str(tmp_path / "c2.jsonl")])
        assert code == 2 and "HTTP 401" in err2
    finally:
        httpd.shutdown()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith("judge_cache.jsonl") for p in written)
    for p in written:
        assert SECRET not in p.read_text(errors="replace"), p
    assert SECRET not in out + err + out2 + err2 + caplog.text
