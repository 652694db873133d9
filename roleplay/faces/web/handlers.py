"""How a page handler's errors reach people: :func:`guarded` wraps every Gradio handler.

* A :class:`~roleplay.errors.RoleplayError` (a mistake the user can fix: a missing note, a
  weak password) becomes a ``gr.Error`` with its message and hint, and one line in the
  server log, never a traceback.
* Anything else is a fault on our side: the user sees a generic message with a short
  reference, and the log has the traceback under the same reference, so nothing internal
  (paths, SQL, exception text) ever reaches a browser.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import gradio as gr

from roleplay.errors import RoleplayError

log = logging.getLogger("roleplay.faces.web")

F = TypeVar("F", bound=Callable[..., Any])


def user_message(exc: RoleplayError) -> str:
    text = exc.message[:1].upper() + exc.message[1:]
    return f"{text}: {exc.hint}." if exc.hint else f"{text}."


def _translate(exc: Exception, where: str) -> gr.Error:
    if isinstance(exc, RoleplayError):
        log.info("%s: %s", where, exc)
        return gr.Error(user_message(exc), print_exception=False)
    reference = secrets.token_hex(4)
    log.error("%s failed (reference %s)", where, reference, exc_info=exc)
    return gr.Error(
        f"Something went wrong on our side (reference {reference}). Try again; if it "
        "keeps happening, give the reference to your administrator.",
        print_exception=False,
    )


def _quiet(exc: gr.Error, where: str) -> gr.Error:
    """A handler's own ``gr.Error`` (a user mistake): one log line, no traceback."""
    log.info("%s: %s", where, exc.message)
    exc.print_exception = False
    return exc


def guarded(fn: F) -> F:
    """Wrap a handler (plain function or generator) so errors are shown as above. The
    signature is kept, so Gradio still injects ``gr.Request`` and streams generators."""
    where = fn.__qualname__

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except gr.Error as exc:
                raise _quiet(exc, where) from None
            except Exception as exc:
                raise _translate(exc, where) from None

        return cast(F, stream)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            raise _quiet(exc, where) from None
        except Exception as exc:
            raise _translate(exc, where) from None

    return cast(F, call)
