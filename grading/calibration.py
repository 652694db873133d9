"""Calibration: how far the reader's per-message judgements agree with people.

The grader scores tone and empathy from the understanding layer's readings, so this measures
those readings on corpora rated by people outside the team, in other domains than customer
service:

* Tone on the Stanford Politeness Corpus (Wikipedia requests): accuracy separating the top and
  bottom quartiles of ``Normalized Score`` (the paper's test) and Spearman over all rows, with
  the tone of a message = 1 - its strongest rude, blaming or dismissive reading.
* Empathy on EPITOME emotional reactions (Reddit): Spearman with ``level`` (0/1/2) and ROC AUC
  for level 0 against level 2, with empathy = its strongest acknowledgement or apology.

Rows are split as the reader's fitting splits its data (``sha256(text) % 2``): the reader was
fitted on the most polite quarter of half 0 of the politeness corpus (as courteous wording)
and never on EPITOME; figures are reported on half 1 (``test``) with half 0 in brackets. The
datasets are read from ``--data`` at run time and never shipped with the product.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError
from tqdm import tqdm

from grading import EXAMPLES_DIR
from grading.report import GradeReport
from grading.rubric import get_rubric
from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.core.transcript import Transcript, read_transcript
from roleplay.core.validation import display_path
from roleplay.errors import InputError
from roleplay.llm import ChatBackend, Message
from roleplay.understanding import local_reader

POLITENESS_FILE = "politeness_wikipedia.csv"
EMPATHY_FILE = "epitome_emotional_reactions.csv"


def part_of(text: str) -> str:
    """``test`` (never fitted on) or ``train``: the reader's own split of its data."""
    from roleplay.understanding.fit import half

    return "test" if half(text) == 1 else "train"


# ------------------------------------------------------------------------- statistics
def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    if len(set(a)) < 2 or len(set(b)) < 2:
        return 0.0
    return float(spearmanr(a, b).statistic)


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    from sklearn.metrics import roc_auc_score

    labels = [1] * len(positives) + [0] * len(negatives)
    return float(roc_auc_score(labels, [*positives, *negatives]))


# ------------------------------------------------------------------------- the reader
def reader_tone(text: str) -> float:
    """1 - the strongest hostile reading of any sentence: 1 courteous, 0 hostile."""
    scores = local_reader().act_scores(text)
    return 1.0 - max(scores[k] for k in ("rude", "blame", "dismissive"))


def reader_empathy(text: str) -> float:
    """The strongest acknowledgement or apology read in any sentence."""
    scores = local_reader().act_scores(text)
    return max(scores["acknowledge"], scores["apologize"])


# ------------------------------------------------------------------------- data
@dataclass(frozen=True)
class PolitenessRow:
    id: str
    text: str
    score: float


@dataclass(frozen=True)
class EmpathyRow:
    id: str
    text: str
    level: int


def _read_csv(path: Path, needed: list[str]) -> list[dict[str, str]]:
    file = display_path(path)
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(file, missing[0], f"column missing; expected {needed}")
            return list(reader)
    except FileNotFoundError:
        raise InputError(
            file,
            "(file)",
            "no such file; pass --data with the folder that "
            f"holds {POLITENESS_FILE} and {EMPATHY_FILE}",
        ) from None


def load_politeness(data: Path) -> list[PolitenessRow]:
    rows = _read_csv(data / POLITENESS_FILE, ["Id", "Request", "Normalized Score"])
    return [PolitenessRow(r["Id"], r["Request"], float(r["Normalized Score"])) for r in rows]


def load_empathy(data: Path) -> list[EmpathyRow]:
    rows = _read_csv(data / EMPATHY_FILE, ["rp_id", "response_post", "level"])
    return [EmpathyRow(r["rp_id"], r["response_post"], int(r["level"])) for r in rows]


def quartile_bounds(rows: Iterable[PolitenessRow]) -> tuple[float, float]:
    """Bottom and top quartile bounds of the human scores, over the whole corpus."""
    scores = sorted(r.score for r in rows)
    n = len(scores)
    return scores[n // 4], scores[(3 * n) // 4]


def quartile_rows(
    rows: Iterable[PolitenessRow], bounds: tuple[float, float]
) -> list[tuple[PolitenessRow, int]]:
    """Rows in the top (label 1) or bottom (label 0) quartile."""
    low, high = bounds
    return [(r, 1 if r.score >= high else 0) for r in rows if r.score >= high or r.score <= low]


# ------------------------------------------------------------------------- figures
def politeness_figures(
    rows: list[PolitenessRow],
    bounds: tuple[float, float],
    judge: Callable[[str], float],
    threshold: float = 0.5,
) -> dict[str, float | int]:
    """Quartile accuracy (score above ``threshold`` = polite) and Spearman over all rows."""
    scored = [judge(r.text) for r in rows]
    by_id = {r.id: s for r, s in zip(rows, scored, strict=True)}
    quart = quartile_rows(rows, bounds)
    correct = sum((by_id[r.id] > threshold) == bool(label) for r, label in quart)
    return {
        "quartile_accuracy": round(correct / len(quart), 4) if quart else 0.0,
        "spearman": round(spearman(scored, [r.score for r in rows]), 4),
        "n": len(rows),
        "n_quartiles": len(quart),
    }


def empathy_figures(
    rows: list[EmpathyRow], judge: Callable[[str], float]
) -> dict[str, float | int]:
    scored = [judge(r.text) for r in rows]
    levels = [r.level for r in rows]
    pos = [s for s, lv in zip(scored, levels, strict=True) if lv == 2]
    neg = [s for s, lv in zip(scored, levels, strict=True) if lv == 0]
    return {
        "spearman": round(spearman(scored, [float(lv) for lv in levels]), 4),
        "auc_0_vs_2": round(roc_auc(pos, neg), 4) if pos and neg else 0.0,
        "n": len(rows),
    }


# ------------------------------------------------------------------------- transcripts
LABELS_FILE = "labels.json"
CRITERIA = ("calmness", "active_listening", "empathy", "policy_adherence", "resolution")


class TranscriptLabel(BaseModel):
    """One line of ``labels.json``: what a QA lead decided about one transcript."""

    file: str
    persona: str
    passed: bool
    scores: dict[str, int]
    resolved: bool | None = None
    policy_broken: list[str] = Field(default_factory=list)
    manipulation: bool = False
    rationale: str = ""


def load_labels(folder: Path) -> list[TranscriptLabel]:
    path = folder / LABELS_FILE
    file = display_path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            file, "(file)", f"no {LABELS_FILE} in the folder; see the README"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(file, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    if not isinstance(raw, list):
        raise InputError(file, "(root)", "expected a list with one object per transcript")
    labels = []
    for i, item in enumerate(raw):
        try:
            labels.append(TranscriptLabel.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InputError(file, f"[{i}].{where}", err["msg"]) from None
    return labels


def transcript_figures(
    folder: Path,
    grade_one: Callable[[Transcript], GradeReport],
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Verdicts and criterion scores against the QA lead's labels."""
    from scipy.stats import spearmanr

    labels = load_labels(folder)
    rows: list[dict[str, Any]] = []
    for label in tqdm(labels, desc="transcripts", file=sys.stderr, disable=not progress):
        report = grade_one(read_transcript(folder / label.file))
        truth = "pass" if label.passed else "fail"
        rows.append(
            {
                "file": label.file,
                "label": truth,
                "verdict": report.verdict,
                "scores": {c.criterion: c.score for c in report.criteria},
                "labels": label.scores,
                "flags": sorted({f.kind for f in report.flags}),
            }
        )
    decided = [r for r in rows if r["verdict"] != "needs_review"]
    wrong = [r for r in decided if r["verdict"] != r["label"]]
    per: dict[str, Any] = {}
    for c in CRITERIA:
        pairs = [
            (r["scores"][c], r["labels"][c])
            for r in rows
            if r["scores"].get(c) is not None and c in r["labels"]
        ]
        if not pairs:
            continue
        ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
        rho = spearmanr(ours, theirs).statistic if len(set(ours)) > 1 else float("nan")
        per[c] = {
            "exact": round(sum(a == b for a, b in pairs) / len(pairs), 3),
            "within_1": round(sum(abs(a - b) <= 1 for a, b in pairs) / len(pairs), 3),
            "spearman": None if rho != rho else round(float(rho), 3),
            "n": len(pairs),
        }
    return {
        "folder": display_path(folder),
        "transcripts": len(rows),
        "right": len(decided) - len(wrong),
        "wrong": len(wrong),
        "needs_review": len(rows) - len(decided),
        "good_failed": sum(1 for r in rows if r["label"] == "pass" and r["verdict"] == "fail"),
        "wrong_files": [f"{r['file']}: {r['verdict']} (label {r['label']})" for r in wrong],
        "review_files": [r["file"] for r in rows if r["verdict"] == "needs_review"],
        "criteria": per,
        "rows": rows,
    }


def render_transcripts(fig: dict[str, Any]) -> str:
    lines = [
        f"Transcripts in {fig['folder']}: {fig['transcripts']}: {fig['right']} right, "
        f"{fig['wrong']} wrong, {fig['needs_review']} need review; good agents failed: "
        f"{fig['good_failed']}.",
        "",
        "| criterion | exact | within 1 | Spearman |",
        "|---|---|---|---|",
    ]
    for c, v in fig["criteria"].items():
        rho = "n/a" if v["spearman"] is None else f"{v['spearman']:.2f}"
        lines.append(f"| {c} | {v['exact']:.2f} | {v['within_1']:.2f} | {rho} |")
    if fig["wrong_files"]:
        lines += ["", "Wrong verdicts: " + "; ".join(fig["wrong_files"])]
    if fig["review_files"]:
        lines += ["", "Needs review: " + "; ".join(fig["review_files"])]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- the command
class _Rating(BaseModel):
    id: int = Field(description="The message id.")
    politeness: int = Field(ge=1, le=5)
    empathy: int = Field(ge=0, le=2)


class _Ratings(BaseModel):
    ratings: list[_Rating]


@lru_cache(maxsize=1)
def _rate_prompts() -> dict[str, Any]:
    text = resources.files("grading.prompts").joinpath("rate.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


class LLMRater:
    """Rates messages in batches with the configured judge model."""

    def __init__(self, backend: ChatBackend, batch: int = 20) -> None:
        self.backend = backend
        self.batch = batch
        self.failed = 0

    def rate(self, texts: list[str], progress: bool) -> list[tuple[float, float] | None]:
        out: list[tuple[float, float] | None] = []
        starts = range(0, len(texts), self.batch)
        for start in tqdm(
            starts, desc="LLM ratings", unit="batch", file=sys.stderr, disable=not progress
        ):
            chunk = texts[start : start + self.batch]
            listing = "\n".join(f"[{i}] {' '.join(t.split())}" for i, t in enumerate(chunk))
            msgs = [
                Message("system", str(_rate_prompts()["system"])),
                Message("user", str(_rate_prompts()["human"]).format(messages=listing)),
            ]
            answer = self.backend.structured(_Ratings, msgs)
            by_id = {r.id: r for r in answer.parsed.ratings} if answer.parsed else {}
            for i in range(len(chunk)):
                r = by_id.get(i)
                if r is None:
                    self.failed += 1
                out.append(None if r is None else (float(r.politeness), float(r.empathy)))
        return out


def _sample(rows: list[Any], n: int | None) -> list[Any]:
    if n is None or n >= len(rows):
        return rows
    # Deterministic: the rows whose ids hash lowest.
    key = lambda r: hashlib.sha256(r.id.encode()).hexdigest()  # noqa: E731
    return sorted(rows, key=key)[:n]


def calibrate(
    data: Path,
    settings: Settings,
    *,
    sample: int | None = None,
    progress: bool = True,
    judge_repeats: int = 3,
) -> dict[str, Any]:
    """Measure the evidence grader (and the LLM judge when configured) against the labels."""
    pol = load_politeness(data)
    emp = load_empathy(data)
    bounds = quartile_bounds(pol)
    parts = {
        part: (
            _sample([r for r in pol if part_of(r.text) == part], sample),
            _sample([r for r in emp if part_of(r.text) == part], sample),
        )
        for part in ("test", "train")
    }
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "engine": settings.grader_engine,
        "reader": local_reader().name,
        "split": {
            "by": "sha256(text) % 2: half 1 is test, as in the reader's fitting",
            "fitted": "the reader saw the most polite quarter of the politeness train half "
            "(as courteous wording) and nothing of EPITOME",
        },
        "politeness": {},
        "empathy": {},
        "reader_held_out": reader_held_out(),
    }
    steps = tqdm(total=4, desc="reader", file=sys.stderr, disable=not progress)
    for part, (p_rows, e_rows) in parts.items():
        p_fig = politeness_figures(p_rows, bounds, reader_tone)
        steps.update()
        e_fig = empathy_figures(e_rows, reader_empathy)
        steps.update()
        if part == "test":
            report["politeness"].update(p_fig)
            report["empathy"].update(e_fig)
        else:
            report["politeness"]["train"] = p_fig
            report["empathy"]["train"] = e_fig
    steps.close()

    if settings.grader_model:
        from grading.grader import grade, make_judge
        from roleplay.llm import chat_backend

        p_rows, e_rows = parts["test"]
        llm_sample = sample or 200
        p_rows, e_rows = _sample(p_rows, llm_sample), _sample(e_rows, llm_sample)
        rater = LLMRater(chat_backend(settings, "grader"))
        p_rated = rater.rate([r.text for r in p_rows], progress)
        e_rated = rater.rate([r.text for r in e_rows], progress)
        p_ok = [(r, s) for r, s in zip(p_rows, p_rated, strict=True) if s is not None]
        e_ok = [(r, s) for r, s in zip(e_rows, e_rated, strict=True) if s is not None]
        p_by_text = {r.text: s[0] for r, s in p_ok}
        e_by_text = {r.text: s[1] for r, s in e_ok}
        report["llm"] = {
            "model": settings.grader_model,
            "prompt_version": _rate_prompts()["prompt_version"],
            "failed_ratings": rater.failed,
            "politeness": politeness_figures(
                [r for r, _ in p_ok], bounds, p_by_text.__getitem__, threshold=3.0
            )
            if p_ok
            else {},
            "empathy": empathy_figures([r for r, _ in e_ok], e_by_text.__getitem__) if e_ok else {},
        }
        judge = make_judge(settings)
        assert judge is not None
        library = PersonaLibrary.default(settings)
        rubric = get_rubric("default")
        spreads: list[int] = []
        files = sorted(EXAMPLES_DIR.glob("*.json"))
        for path in tqdm(files, desc="judge stability", file=sys.stderr, disable=not progress):
            transcript = read_transcript(path)
            graded = grade(
                transcript,
                library.get(transcript.persona),
                rubric,
                judge=judge,
                samples=judge_repeats,
            )
            spreads += [c.spread for c in graded.criteria if c.spread is not None]
        report["judge_stability"] = {
            "transcripts": len(files),
            "gradings_each": judge_repeats,
            "mean_spread": round(sum(spreads) / len(spreads), 3) if spreads else None,
            "max_spread": max(spreads) if spreads else None,
            "unstable_share": round(sum(s >= 2 for s in spreads) / len(spreads), 3)
            if spreads
            else None,
        }
    return report


def reader_held_out() -> dict[str, Any]:
    """The reader's own held-out figures, as its fitting wrote them."""
    from roleplay.understanding.classifiers import Heads

    report = Heads.report()
    acts, moves = report["acts"], report["moves"]
    return {
        "acts_f1": {k: v["f1"] for k, v in acts["held_out"].items()},
        "courteous_false_positive_rate": acts["courteous_held_out"],
        "moves_f1": {k: v["f1"] for k, v in moves["held_out"].items()},
        "moves_sgd_test_macro_f1": moves["sgd_test"]["macro_f1"],
    }


def render_markdown(report: dict[str, Any]) -> str:
    """The figures table for the README."""
    p, e = report["politeness"], report["empathy"]
    lines = [
        f"Calibration on {report['date']}, reader `{report['reader']}`, on the half of each "
        "corpus the reader never saw (the other half in brackets). Both corpora are outside "
        "customer service: read these as how the reader carries over, not as its accuracy "
        "on agents' messages.",
        "",
        "| judgement | figure | reader | reported anchor |",
        "|---|---|---|---|",
        f"| tone (politeness, n={p['n']}) | quartile accuracy | {p['quartile_accuracy']:.3f} "
        f"({p['train']['quartile_accuracy']:.3f}) | paper's classifier 0.838, humans 0.867 |",
        f"| tone (politeness) | Spearman | {p['spearman']:.3f} ({p['train']['spearman']:.3f}) | |",
        f"| empathy (EPITOME, n={e['n']}) | Spearman with level | {e['spearman']:.3f} "
        f"({e['train']['spearman']:.3f}) | |",
        f"| empathy | ROC AUC level 0 vs 2 | {e['auc_0_vs_2']:.3f} "
        f"({e['train']['auc_0_vs_2']:.3f}) | EPITOME classifier ~0.79 "
        "(3-class accuracy, not the same measure) |",
    ]
    held = report.get("reader_held_out")
    if held:
        fp = held["courteous_false_positive_rate"]
        acts = ", ".join(f"{k} {v:.2f}" for k, v in held["acts_f1"].items())
        lines += [
            "",
            f"Reader, held-out half of the written example sets: act F1 {acts}; customer "
            f"moves on SGD's test dialogues macro-F1 {held['moves_sgd_test_macro_f1']:.3f}. "
            "Courteous sentences read as hostile: "
            + "; ".join(
                f"{name.replace('_', ' ')} "
                + ", ".join(f"{k} {v:.1%}" for k, v in part["false_positive_rate"].items())
                for name, part in fp.items()
            )
            + ".",
        ]
    llm = report.get("llm")
    if llm:
        lp, le = llm["politeness"], llm["empathy"]
        lines += [
            "",
            f"LLM judge `{llm['model']}` on the same held-out rows (sampled): "
            f"quartile accuracy {lp.get('quartile_accuracy', 0):.3f}, politeness Spearman "
            f"{lp.get('spearman', 0):.3f}, empathy Spearman {le.get('spearman', 0):.3f}, "
            f"AUC {le.get('auc_0_vs_2', 0):.3f} ({llm['failed_ratings']} ratings failed).",
        ]
        st = report["judge_stability"]
        lines.append(
            f"Judge stability over {st['gradings_each']} gradings of {st['transcripts']} built-in "
            f"transcripts: mean spread {st['mean_spread']}, max {st['max_spread']}, "
            f"unstable share {st['unstable_share']}."
        )
    return "\n".join(lines) + "\n"
