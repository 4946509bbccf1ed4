"""Where the tests find the repository's seeds and the shared evaluation data."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
NEWSQA_ARTICLES = SHARED / "eval" / "newsqa" / "articles"
SEED_QUESTIONS = SHARED / "eval" / "seed_questions.jsonl"
INDEPENDENT = "000_5213ba787b876419.txt"
GUARDIAN = "001_bb5efc402e47882d.txt"
