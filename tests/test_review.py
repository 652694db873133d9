"""The reviewer's service: overrides with an audit trail, filters, cohort, compare, exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from grading.report import points
from roleplay.config import Settings
from roleplay.core.library import PersonaLibrary
from roleplay.errors import InvalidValue
from roleplay.services.candidates import CandidateService
from roleplay.services.catalog import Catalog
from roleplay.services.review import OUTCOME_WORDS, ReviewService, RowFilter
from roleplay.storage.store import Store
from tests import scripts
from tests.scripts import talk


@pytest.fixture
def graded(db_url: str, library: PersonaLibrary) -> Iterator[tuple[Store, dict[str, int]]]:
    """Three finished, graded damaged-laptop sessions: good, rude, and robotic-ish."""
    store = Store.open(db_url)
    svc = CandidateService(store, Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"}), library)
    ids: dict[str, int] = {}
    for name, script in [
        ("Ann", scripts.GOOD),
        ("Rob", scripts.RUDE),
        ("Pia", scripts.POLICY_ONLY),
    ]:
        token = store.create_invite("damaged-laptop", "assessment", candidate_name=name)
        info, _ = svc.start(token)
        talk(svc, token, info.id, script)
        if store.session(info.id).status == "active":
            svc.end(token, info.id)
        ids[name] = info.id
    svc.wait_for_grading()
    svc.close()
    yield store, ids
    store.close()


def test_override_keeps_the_original_and_recomputes_the_overall(
    graded: tuple[Store, dict[str, int]],
) -> None:
    store, ids = graded
    review = ReviewService(store)
    before = review.report(ids["Rob"])
    assert before is not None and not before.passed
    with pytest.raises(InvalidValue, match=r"^a note is required") as refused:
        review.override(ids["Rob"], "calmness", 5, "  ", "rita")
    assert refused.value.field == "note" and "note:" not in str(refused.value)
    after = review.override(ids["Rob"], "calmness", 5, "customer was abusive first", "rita")
    assert after.score("calmness").score == 5 and after.score("calmness").source == "override"
    assert after.overall > before.overall
    weights = {c.criterion: c.weight for c in after.criteria}
    expected = sum(weights[c.criterion] * ((c.score or 1) - 1) / 4 for c in after.criteria)
    assert after.overall == round(expected / sum(weights.values()) * 100, 1)
    stored = store.grade(ids["Rob"])
    assert stored is not None and stored[1] is not None
    original = next(c for c in stored[1]["criteria"] if c["criterion"] == "calmness")
    assert original["score"] == before.score("calmness").score  # the original stays
    audit = store.overrides(ids["Rob"])
    assert [(o.old_score, o.new_score, o.by_user, o.note) for o in audit] == [
        (before.score("calmness").score, 5, "rita", "customer was abusive first")
    ]


def test_filters_and_sorting(graded: tuple[Store, dict[str, int]]) -> None:
    store, _ = graded
    review = ReviewService(store)
    by_overall = review.rows(sort="overall")
    overalls = [r.overall for r in by_overall]
    assert overalls == sorted(overalls, reverse=True)  # type: ignore[type-var]
    assert by_overall[0].candidate == "Ann" and by_overall[0].passed is True
    failed = review.rows(passed=False)
    assert {r.candidate for r in failed} == {"Rob", "Pia"}
    assert [r.candidate for r in review.rows(candidate="an")] == ["Ann"]
    assert {r.outcome for r in review.rows(outcome="resolved")} == {"resolved"}
    assert review.rows(persona="cancelled-flight") == []
    assert review.rows(since=datetime.now(UTC) + timedelta(days=1)) == []
    assert len(review.rows(since=datetime.now(UTC) - timedelta(days=1))) == 3
    # people read outcomes and flags in words; exports keep the ids
    rob = next(r for r in review.rows() if r.candidate == "Rob")
    assert rob.outcome in OUTCOME_WORDS and rob.cells()[7] == rob.outcome
    assert rob.outcome in ("escalated", "abandoned")  # a rude agent never resolves it
    assert rob.cells(human=True)[7] == OUTCOME_WORDS[rob.outcome] != rob.outcome
    assert "customer_fault" in rob.cells()[10]
    assert "blamed the customer" in rob.cells(human=True)[10]
    assert [r.candidate for r in review.rows(sort="candidate", descending=False)] == [
        "Ann",
        "Pia",
        "Rob",
    ]


def test_the_dashboard_names_personas_as_people_know_them(
    graded: tuple[Store, dict[str, int]], library: PersonaLibrary
) -> None:
    """The persona column reads "Company: customer", as the pickers do; exports keep the id."""
    store, _ = graded
    row = ReviewService(store, Catalog(store, library)).rows()[0]
    assert row.cells(human=True)[2] == "Brightline Electronics: Dana Whitfield"
    assert row.cells()[2] == "damaged-laptop"


def test_a_session_left_open_for_a_day_shows_as_abandoned(
    graded: tuple[Store, dict[str, int]], library: PersonaLibrary
) -> None:
    store, _ = graded
    svc = CandidateService(store, Settings.from_env({"ROLEPLAY_HOME": "/tmp/x"}), library)
    stale, fresh = (
        store.create_invite("damaged-laptop", "practice", candidate_name=n)
        for n in ("Left", "Busy")
    )
    left, _ = svc.start(stale)
    svc.start(fresh)
    svc.close()
    with store.engine.begin() as conn:
        conn.execute(
            text("update sessions set started_at = :at where id = :id"),
            {"at": datetime.now(UTC) - timedelta(hours=25), "id": left.id},
        )
    review = ReviewService(store)
    assert [(r.candidate, r.status) for r in review.rows(status="abandoned")] == [
        ("Left", "abandoned")
    ]
    assert [r.candidate for r in review.rows(status="active")] == ["Busy"]
    assert len(review.rows(status="ended")) == 3
    assert RowFilter(status="abandoned").status == "abandoned"
    with pytest.raises(ValueError):
        RowFilter.model_validate({"status": "gone"})


def test_cohort_compare_mood_and_exports(graded: tuple[Store, dict[str, int]]) -> None:
    store, ids = graded
    review = ReviewService(store)
    found = review.cohort(ids["Ann"])
    cohort = dict((name, (mine, others)) for name, mine, others in found.rows)
    assert cohort["Calmness"][0] == 5 and cohort["Calmness"][1] is not None
    assert found.others == 2  # Rob and Pia; Ann herself is left out, and the caption says so
    assert found.caption() == (
        "Cohort mean: the 2 other graded sessions of this persona (this session not included)."
    )
    headers, body = review.compare([ids["Ann"], ids["Rob"]])
    assert headers == ["criterion", f"Ann (#{ids['Ann']})", f"Rob (#{ids['Rob']})"]
    assert body[-1] == ["result", "pass", "fail"]
    moods = review.mood_series(ids["Rob"])
    assert moods[0][1] == -3 and moods[-1][1] <= -4
    rows = review.rows()
    parsed = list(csv.DictReader(io.StringIO(review.export_csv(rows))))
    assert {r["candidate"] for r in parsed} == {"Ann", "Rob", "Pia"}
    assert json.loads(review.export_json(rows))[0]["persona"] == "damaged-laptop"
    page = review.session_html(ids["Ann"])
    assert "<h2>Transcript</h2>" in page and "Grade report" in page
    # the printable page says who, what and when, and rounds as the dashboard does
    ann = next(r for r in rows if r.id == ids["Ann"])
    assert f"<dt>Session</dt><dd>{ids['Ann']}</dd><dt>Candidate</dt><dd>Ann</dd>" in page
    assert "<dt>Mode</dt><dd>assessment</dd>" in page and "<dt>Started</dt><dd>20" in page
    assert ann.overall is not None and f"Overall {points(ann.overall)}/100" in page
    assert (points(91.7), points(100.0), points(66.7)) == ("91.7", "100", "66.7")


def test_csv_cells_never_become_spreadsheet_formulas() -> None:
    from roleplay.services.review import SessionRow

    rows = [
        SessionRow(
            1,
            '=HYPERLINK("http://evil.example","click")',
            "p",
            "practice",
            "web",
            "d",
            "ended",
            "resolved",
            80.0,
            True,
        ),
        SessionRow(2, "+1 555", "p", "practice", "web", "d", "ended", "resolved", None, None),
        SessionRow(3, "-2+3", "p", "practice", "web", "d", "ended", "resolved", None, None),
        SessionRow(4, "@SUM(A1)", "p", "practice", "web", "d", "ended", "resolved", None, None),
        SessionRow(5, "Ann Smith", "p", "practice", "web", "d", "ended", "resolved", None, None),
    ]
    names = [r["candidate"] for r in csv.DictReader(io.StringIO(ReviewService.export_csv(rows)))]
    assert names[:4] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "'+1 555",
        "'-2+3",
        "'@SUM(A1)",
    ]
    assert names[4] == "Ann Smith"
