"""Prompt rendering against golden files (update them only on purpose)."""

from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def test_prompts_match_golden_file(golden):
    assert golden.prompts_text() == (GOLDEN / "prompts.txt").read_text()


def test_chat_template_matches_golden_file(golden):
    assert golden.chat_text() == (GOLDEN / "chat.txt").read_text()
