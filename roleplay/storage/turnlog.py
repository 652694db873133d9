"""An append-only JSON-lines log of a conversation, written turn by turn.

Used by the CLI so a conversation survives a crash: each turn is flushed and synced to disk
as it happens. ``load`` rebuilds the transcript from the log.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from roleplay.core.transcript import Transcript, Turn, parse_transcript


class TurnLog:
    """``<home>/transcripts/<stamp>-<persona>.jsonl``: a header line, then one line per turn."""

    def __init__(self, home: Path, transcript: Transcript) -> None:
        folder = home / "transcripts"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        self.path = folder / f"{stamp}-{transcript.persona}.jsonl"
        header = transcript.model_dump(
            mode="json", exclude={"turns", "usage", "outcome", "ended_at"}, exclude_none=True
        )
        self._write({"header": header})

    def _write(self, record: dict[str, object]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def __call__(self, turn: Turn) -> None:
        self._write({"turn": turn.model_dump(mode="json", exclude_none=True)})

    def finish(self, transcript: Transcript) -> None:
        self._write(
            {"outcome": transcript.outcome, "usage": transcript.model_dump(mode="json")["usage"]}
        )

    @staticmethod
    def load(path: Path) -> Transcript:
        header: dict[str, object] = {}
        turns: list[object] = []
        outcome = None
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "header" in record:
                header = record["header"]
            elif "turn" in record:
                turns.append(record["turn"])
            elif "outcome" in record:
                outcome = record["outcome"]
        return parse_transcript({**header, "turns": turns, "outcome": outcome}, str(path))
