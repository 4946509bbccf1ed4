"""The Gradio page: a conversation of cited answers, example questions, filters, uploads.

`create_app` lays the page out (`_layout`) and connects its events (`_connect`) to the
`Handlers` of one engine. The engine may still be loading (`EngineLoader`): the page is up at
once, shows the indexing progress and takes questions when the index is ready."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.index.generations import UPLOADS
from qa.ui.render import (
    answer_html,
    error_html,
    esc,
    loading_html,
    pending_html,
    welcome_html,
)
from qa.ui.startup import EngineLoader
from qa.ui.uploads import (
    ALLOWED_SUFFIXES,
    UploadError,
    drop_unindexed,
    removing_uploads,
    store_uploads,
    uploaded_names,
)

if TYPE_CHECKING:
    import gradio as gr

    from qa.core.errors import QAError
    from qa.core.records import Answer
    from qa.core.settings import Settings
    from qa.engine import QA

__all__ = ["MAX_TURNS", "UPLOAD_CACHE", "Handlers", "create_app", "public_answer"]

#: Gradio's copies of uploaded files: every minute, those older than 10 minutes (uploaded
#: but never sent to an event) are deleted; the app deletes the others once it has read them.
UPLOAD_CACHE = (60, 600)
#: turns a conversation keeps (and shows): the oldest go first.
MAX_TURNS = 100
#: the fewest passages an answer may read: with fewer, most answers are abstentions.
MIN_K = 3
#: the most the chat's setting offers (reading is about 20 ms a passage).
MAX_K = 12
#: how often an open page looks whether the status line changed (articles added by the folder
#: watch, by `qa index` or by another visitor's upload).
STATUS_SECONDS = 5
#: the date filter boxes, as their errors name them.
SINCE_LABEL, UNTIL_LABEL = "Published on or after", "Published on or before"
#: an absolute path in a message; its last part is group 1 (`_without_folders`). Not a date
#: (01/06/2025) or an address (https://host/a/b): what comes before the first "/" says so.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/[^/\s;,()'\"]+)+/([^/\s;,()'\"]+)")

logger = logging.getLogger(__name__)
#: what a visitor is told of a failure that is not theirs to fix (the server's log says more).
UNEXPECTED = ("The server failed to answer this question (its log says why). Ask again; if "
              "it fails again, tell whoever runs this server.")


def public_answer(answer: Answer) -> dict:
    """`answer.to_dict()` without server paths: each article's `path` becomes `file`, its
    file name (a dict with a "path" key would also be taken for a file by gradio_client)."""
    data = answer.to_dict()
    for item in (*data.get("citations", []), *data.get("related", [])):
        article = item.get("article", {})
        path = str(article.pop("path", "") or "")
        article["file"] = path.replace("\\", "/").rsplit("/", 1)[-1]
    return data


def _history(turns: list[dict], last: int) -> list[dict]:
    """The `last` answered turns of the conversation as messages for `QA.answer`."""
    messages: list[dict] = []
    for turn in turns[-last:]:
        if turn.get("answer") is not None:
            messages += [{"role": "user", "content": turn["question"]},
                         {"role": "assistant", "content": turn["answer"]}]
    return messages


def _conversation(turns: list[dict], welcome: str) -> str:
    """The finished turns, or the opening card before the first question. A turn holds its
    `Answer` (whose articles the store shares), not its HTML: a session stays small."""
    if not turns:
        return welcome
    last = len(turns) - 1
    return '<div class="qa-conv">' + "".join(
        answer_html(i, t["question"], t["result"], latest=i == last) if t["result"]
        else error_html(i, t["question"], t["error"]) for i, t in enumerate(turns)) + "</div>"


#: said to a question asked before the articles are loaded (taken back once they are).
STILL_INDEXING = "The articles are still being indexed: ask again in a moment."


def _alert(message: str) -> str:
    return f'<div class="qa-conv qa-live"><p class="qa-flag" role="alert">{esc(message)}</p></div>'


def _welcome(engine: QA) -> str:
    """The opening card: the articles of the engine's store."""
    return welcome_html(engine.store.sample_articles(50), engine.stats.articles)


def _sources(engine: QA) -> list[str]:
    """The publishers of the indexed articles."""
    return sorted(engine.store.stats().publishers)


class Handlers:
    """What the page's events do, over the engine of one `EngineLoader`."""

    def __init__(self, loader: EngineLoader, removable: bool = True) -> None:
        self.loader = loader
        self.settings: Settings = loader.settings
        #: whether the page offers to remove uploaded articles.
        self.removable = removable
        #: (articles, passages) -> opening card, example questions, publishers: made once
        #: per state of the index, not on every page load.
        self._intro: tuple[tuple[int, int], tuple[str, list[list[str]], list[str]]] | None = None
        #: the status line as the pages' timers last saw it, and when (`changed_status`).
        self._ticked: tuple[float, str] = (-float(STATUS_SECONDS), "")

    def _introduce(self, engine: QA) -> tuple[str, list[list[str]], list[str]]:
        stats = engine.stats
        key = (stats.articles, stats.chunks)
        if self._intro is None or self._intro[0] != key:
            self._intro = (key, (_welcome(engine), [[q] for q in engine.example_questions(4)],
                                 _sources(engine)))
        return self._intro[1]

    # -- page state ----------------------------------------------------------------------

    def status(self) -> str:
        """The status line: the articles loaded, how far indexing has come, or that the
        store cannot be reached just now."""
        from qa.core.errors import QAError, StoreUnavailableError

        engine, state = self.loader.engine, self.loader.state
        if engine is not None:
            try:
                stats = engine.stats
                sources = _sources(engine)
            except StoreUnavailableError as exc:
                return f"{esc(_for_visitors(exc))} Answers resume when it is back."
            names = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more"
                                              if len(sources) > 3 else "")
            adding = " Adding new articles…" if engine.adding else ""
            return (f"Ready: {stats.articles:,} articles"
                    f"{' from ' + esc(names) if names else ''}, {stats.chunks:,} passages."
                    f"{adding}")
        if state.error:  # (a fault of the server's is "internal error (...)" in `state`)
            error = self.loader.error
            shown = _for_visitors(error) if isinstance(error, QAError) and \
                str(error) == state.error else _without_folders(state.error)
            return f"The articles could not be loaded: {esc(shown)}"
        count = f", {state.done} of {state.total}" if state.total else "…"
        return (f"Indexing the articles: {state.stage.lower()}{count} "
                f"({self.loader.seconds:.0f} s). You can ask once this is done.")

    def refresh(self, turns: list[dict] | None, ticked: list[str] | None = None,
                live: str | None = None) -> tuple:
        """Status, opening card, examples, filters, Ask button, mode, timer, and the live
        answer area (its "still being indexed" alert taken back): all from the engine when it
        is ready and its store reachable (the timer then stops)."""
        import gradio as gr

        from qa.core.errors import StoreUnavailableError

        engine = self.loader.engine
        status = self.refresh_status()
        if engine is None:
            state = self.loader.state
            return (status, loading_html(state.done, state.total, bool(state.error)),
                    gr.skip(), gr.skip(), gr.Button(interactive=False), gr.skip(),
                    gr.Timer(active=not state.error), gr.skip())
        try:
            welcome, examples, sources = self._introduce(engine)
        except StoreUnavailableError:  # the status says so; the timer tries again
            return (status, gr.skip(), gr.skip(), gr.skip(), gr.Button(interactive=True),
                    gr.skip(), gr.Timer(active=True), gr.skip())
        return (status, _conversation(turns or [], welcome), gr.Dataset(samples=examples),
                _publishers(sources, ticked), gr.Button(interactive=True),
                gr.Radio(visible=engine.llm_available), gr.Timer(active=False),
                "" if esc(STILL_INDEXING) in (live or "") else gr.skip())

    def reset(self) -> tuple:
        """A new conversation: no turns, the opening card."""
        engine = self.loader.engine
        return [], self._introduce(engine)[0] if engine else "", ""

    # -- answering -----------------------------------------------------------------------

    def respond(self, message: str, turns: list[dict], k: float | None, mode: str | None,
                sources: list[str] | None, since: str | None,
                until: str | None) -> Iterator[tuple]:
        """Answer `message` in the conversation, streaming; outputs: question box,
        conversation, turn in progress, turns, Ask button."""
        import gradio as gr

        from qa.core.errors import InputError, QAError
        from qa.inputs import clean_question

        question = (message or "").strip()
        qa = self.loader.engine
        why = None
        where = {"sources": list(sources or []) or None}
        if question:
            try:
                clean_question(question, self.settings)
                where["since"] = _typed_date(since, SINCE_LABEL)
                where["until"] = _typed_date(until, UNTIL_LABEL)
                if where["since"] and where["until"] and where["since"] > where["until"]:
                    raise InputError(f"{SINCE_LABEL} ({where['since']}) is after "
                                     f"{UNTIL_LABEL.lower()} ({where['until']}): no article "
                                     "can be both.")
            except QAError as exc:  # pasted past the limit, a date mistyped: the question
                why = str(exc)      # stays in the box, to shorten or to ask again
        if not question or qa is None or why:
            why = why or (STILL_INDEXING if question else "Type a question first.")
            yield gr.skip(), gr.skip(), _alert(why), gr.skip(), gr.skip()
            return
        turns = list(turns or [])[1 - MAX_TURNS:]  # a session's memory stays bounded
        busy = gr.Button(interactive=False, value="Answering…")
        yield "", gr.skip(), pending_html(question, ""), turns, busy
        text = ""
        try:
            if where["sources"]:  # a publisher ticked before its last article went
                where["sources"] = _still_indexed(where["sources"], _sources(qa))
            k = int(k) if k is not None else None  # the slider sends 6.0
            stream = qa.stream(question, history=_history(turns, self.settings.max_history_turns),
                               k=k, mode=mode, **where)
            for piece in stream:
                text += piece
                yield gr.skip(), gr.skip(), pending_html(question, text), gr.skip(), gr.skip()
            answer = stream.answer
        except QAError as exc:
            turns.append({"question": question, "answer": None, "result": None,
                          "error": _for_visitors(exc)})
        except Exception:  # a fault of the server's: in its log, not shown (it may name paths)
            logger.exception("Answering %r failed", question[:200])
            turns.append({"question": question, "answer": None, "result": None,
                          "error": UNEXPECTED})
        else:
            turns.append({"question": question, "answer": answer.text, "result": answer})
        ready = gr.Button(interactive=True, value="Ask")
        yield gr.skip(), _conversation(turns, ""), "", turns, ready

    def submitted(self, message: str, *settings: Any) -> Iterator[tuple]:
        """Enter pressed in the question box: as `respond`, but an empty box is left alone,
        as chats do (Enter pressed twice asked the question, then answered the box it had
        emptied with "Type a question first.")."""
        import gradio as gr

        if not (message or "").strip():
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield from self.respond(message, *settings)

    def ask(self, question: str, history: list[dict] | None = None, k: int | None = None,
            mode: str | None = None) -> dict:
        """Answer a question from the indexed articles; returns the answer with citations.

        history: earlier messages, [{"role": "user"|"assistant", "content": str}, ...]."""
        import gradio as gr

        from qa.core.errors import QAError

        qa = self.loader.engine
        if qa is None:
            raise gr.Error(STILL_INDEXING,
                           print_exception=False)
        try:
            return public_answer(qa.answer(question, history=history or None, k=k, mode=mode))
        except QAError as exc:  # said to the client; not a fault of the server's to log whole
            raise gr.Error(_for_visitors(exc), print_exception=False) from None
        except Exception:
            logger.exception("Answering %r failed", str(question)[:200])
            raise gr.Error(UNEXPECTED, print_exception=False) from None

    # -- uploads -------------------------------------------------------------------------

    def add_articles(self, paths: list[str] | None, progress: Any = None) -> tuple:
        """Store and index uploaded files; outputs: message, status line, file box."""
        from qa.index.postgres import names_uploaded_elsewhere

        from qa.core.errors import QAError

        qa = self.loader.engine
        if not paths:
            return "", self.refresh_status(), None
        try:
            if qa is None:
                raise UploadError("The articles are still being indexed: add files once the "
                                  "page says Ready.")
            index_dir = self.settings.index_dir
            folder = Path(index_dir) / UPLOADS
            before = set(folder.iterdir()) if folder.is_dir() else set()
            stored, not_stored = store_uploads(list(paths), index_dir,
                                               max_bytes=self.settings.max_file_bytes,
                                               max_total=self.settings.max_uploads_bytes,
                                               taken=names_uploaded_elsewhere(self.settings))
        except UploadError as exc:
            return _upload_message("Not added", str(exc)), self.refresh_status(), None
        except QAError as exc:  # the store cannot be reached, a damaged server id
            return _upload_message("Not added", _for_visitors(exc)), self.refresh_status(), None
        finally:  # Gradio's cached copies are servable: keep only ours
            _forget([Path(p) for p in paths], folders=True)

        def on_progress(done: int, total: int) -> None:
            if progress is not None:
                progress((done, max(total, 1)), desc="Reading the articles", unit="passages")

        try:
            report = qa.add_files([str(p) for p in stored], progress=on_progress)
        except QAError as exc:  # refused before anything was written
            _forget([p for p in stored if p not in before])
            return _upload_message("Not added", _for_visitors(exc)), \
                self.refresh_status(), None
        except Exception:  # part may be written (a store lost mid-way): keep the files
            logger.exception("Indexing uploads failed")
            return _upload_message("Not added", "indexing failed on the server (its log says "
                                   "why); add the files again later."), self.refresh_status(), None
        refused = [n for n in report.notices if n.action in ("refused", "skipped")]
        kept = ", ".join(p.name for p in drop_unindexed(stored, report.kept_files, before))
        if report.added or report.updated:
            added = len(report.added) + len(report.updated)
            head = ("Added", f"{kept}: {added} article{'s' if added != 1 else ''}; the index "
                             f"now holds {report.articles_total} articles.")
        elif refused:
            head = None  # each file's line says why
        else:
            head = ("Already indexed", kept or "nothing new.")
        lines = ([_upload_message(*head)] if head else []) + [
            _upload_message("Not added", reason) for reason in not_stored] + [
            _upload_message("Not added" if n in refused else "Note",
                            f"{Path(n.path).name}: {n.action}: "
                            f"{_without_folders(n.message, n.mentions)}")
            for n in report.notices]
        return "".join(lines), self.refresh_status(), None

    def remove_articles(self, names: list[str] | None) -> tuple:
        """Delete the chosen uploaded files and their articles; outputs: message, status
        line, the list of uploaded articles."""
        from qa.index.postgres import names_uploaded_elsewhere

        from qa.core.errors import QAError

        qa = self.loader.engine
        if not names:
            return "", self.refresh_status(), self.uploaded()
        try:
            if not self.removable:
                raise UploadError("Removing articles needs a login: start the server with "
                                  "--auth-file.")
            if qa is None:
                raise UploadError("The articles are still being indexed: remove them once the "
                                  "page says Ready.")
            if held := sorted(set(names) & names_uploaded_elsewhere(self.settings)):
                raise UploadError(
                    f"{', '.join(held)}: the database keeps the article of this name as "
                    "another server's upload (a server whose index folder has the same path, "
                    "or this one before its uploads/.server-id was lost), so removing the "
                    "file here would leave the article. Remove it on that server.")
            with removing_uploads(names, self.settings.index_dir) as removed:
                report = qa.add_files([str(Path(self.settings.index_dir) / UPLOADS)])
        except QAError as exc:
            return _upload_message("Not removed", _for_visitors(exc)), self.refresh_status(), \
                self.uploaded()
        except Exception:
            logger.exception("Removing uploads failed")
            return _upload_message("Not removed", "the server failed (its log says why)."), \
                self.refresh_status(), self.uploaded()
        message = (f"{', '.join(p.name for p in removed)}; the index now holds "
                   f"{report.articles_total} articles.")
        return _upload_message("Removed", message), self.refresh_status(), self.uploaded()

    def uploaded(self, chosen: list[str] | None = None) -> Any:
        """The list of uploaded articles to choose from, as it is now; of those `chosen`,
        the ones still there stay chosen."""
        import gradio as gr

        names = uploaded_names(self.settings.index_dir)
        return gr.Dropdown(choices=names, value=[name for name in chosen or [] if name in names],
                           multiselect=True)

    def refresh_status(self) -> str:
        """The status line as the page shows it."""
        return f'<p role="status">{self.status()}</p>'

    def changed_status(self, shown: str, turns: list[dict] | None,
                       ticked: list[str] | None = None, chosen: list[str] | None = None) -> tuple:
        """Once the engine is ready: the status line if it is not `shown` (what this page
        last drew), so that screen readers hear a change, not the same line every tick; and
        the opening card again, listing the articles as they are now, until the first
        question, the publishers to filter by, the example questions and the uploaded articles
        to remove (another visitor's upload or Remove shows here too). Outputs: status line,
        the line drawn, conversation, publishers, examples, uploaded articles."""
        import gradio as gr

        from qa.core.errors import StoreUnavailableError

        engine = self.loader.engine
        if engine is None:
            return gr.skip(), shown, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        now = time.monotonic()
        if now - self._ticked[0] >= STATUS_SECONDS / 2:  # one look for every open page
            self._ticked = (now, self.refresh_status())
        status = self._ticked[1]
        if status == shown:
            return gr.skip(), shown, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            card, examples, publishers = self._introduce(engine)
        except StoreUnavailableError:  # the status line says so
            return status, status, gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return (status, status, gr.skip() if turns else card,
                _publishers(publishers, ticked), gr.Dataset(samples=examples),
                self.uploaded(chosen))


def _publishers(publishers: list[str], ticked: list[str] | None) -> Any:
    """The publisher boxes as the index has them now; a ticked one whose articles are all
    gone is unticked with its box (Gradio refuses a value that is not a choice)."""
    import gradio as gr

    return gr.CheckboxGroup(choices=publishers,
                            value=[p for p in ticked or [] if p in publishers])


def _still_indexed(ticked: list[str], publishers: list[str]) -> list[str]:
    """The ticked publishers that the index still holds. Raises `InputError` when none is."""
    from qa.core.errors import InputError

    kept = [name for name in ticked if name in publishers]
    if not kept:
        raise InputError(f"No indexed article is from {', '.join(ticked)} any more: untick it "
                         "under Filter articles to search all articles.")
    return kept


def _typed_date(typed: str | None, label: str) -> str | None:
    """A date typed into a filter box, as YYYY-MM-DD ("3 March 2025" and "2025/03/01" are
    dates too); `InputError` naming the box when it is not one."""
    from qa.core.errors import InputError
    from qa.core.records import parse_date

    if not (typed or "").strip():
        return None
    day = parse_date(typed.strip(), whole=True)
    if day is None:
        raise InputError(f"{label}: {typed.strip()!r} is not a date; write it as YYYY-MM-DD.")
    return day.isoformat()


def _for_visitors(exc: QAError) -> str:
    """`exc`'s message as a visitor may read it: where the store lives and the server's
    folders are not theirs to know (the server's log keeps the whole message)."""
    from qa.core.errors import StoreUnavailableError

    if isinstance(exc, StoreUnavailableError):
        logger.warning("%s", exc)
        return "The article store cannot be reached just now."
    return _STORE_URL.sub("[address hidden]", _without_folders(str(exc)))


#: a database store's address in a message ("The PostgreSQL store at postgresql://app@db/news
#: holds ...", psycopg's 'connection to server at "db", port 5432 failed'): the host, user
#: and database are not a visitor's to know.
_STORE_URL = re.compile(r"postgres(?:ql)?://[^\s'\"()]*[^\s'\"(),.;:]|(?<=server )(?:at|on) "
                        r"(?:socket )?\"[^\"]*\"(?:, port \d+)?")


def _without_folders(text: str, paths: Iterable[str] = ()) -> str:
    """`text` with each absolute path cut to its last part: the server's folders are not the
    visitor's business ("same article as /srv/news/a.txt" -> "same article as a.txt").
    `paths`: files the text is known to name, cut first (their folders may hold spaces or
    brackets, which a path found in free text cannot)."""
    for path in sorted(paths, key=len, reverse=True):
        text = text.replace(path, Path(path).name)
    return _ABSOLUTE_PATH.sub(r"\1", text)


def _upload_message(label: str, text: str) -> str:
    kind = "qa-flag" if label == "Not added" else "qa-muted"
    return f'<p class="{kind}"><b>{esc(label)}:</b> {esc(text)}</p>'


def _forget(paths: list[Path], folders: bool = False) -> None:
    """Remove files (uploads that were not indexed; Gradio's temporary copies, each in a
    folder of its own that goes too when `folders`). A path that is not a file (a visitor's
    request may name any path in Gradio's cache, even the cache itself) is left alone."""
    for path in paths:
        if path.is_symlink() or not path.is_file():
            continue
        with contextlib.suppress(OSError):
            path.unlink()
        if folders:
            with contextlib.suppress(OSError):  # not empty: not only ours
                path.parent.rmdir()


@dataclass
class _Page:
    """The page's components that events read or write."""

    status: Any
    chat: Any
    live: Any
    box: Any
    ask: Any
    examples: Any
    new: Any
    k: Any
    mode: Any
    sources: Any
    since: Any
    until: Any
    files: Any
    upload_msg: Any
    #: the uploaded articles' files, and the button that removes those chosen.
    uploaded: Any
    remove: Any
    turns: Any
    timer: Any
    #: the status line's own slower timer, and the line it last drew.
    status_timer: Any
    shown_status: Any


def _layout(handlers: Handlers) -> _Page:
    """Place the components: title and status; the conversation, the question box and
    examples; beside them, filters, settings and uploads."""
    import gradio as gr

    gr.HTML("<h1>Article QA</h1><p>Ask about the indexed news articles. Every answer cites "
            "the passages it comes from.</p>", elem_id="qa-title", js_on_load=None)
    settings, ready = handlers.settings, handlers.loader.engine is not None
    status = gr.HTML(handlers.refresh_status(), elem_id="qa-status",
                     js_on_load=None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            with gr.Column(elem_id="qa-chat"):
                chat = gr.HTML("" if ready else loading_html(0, 0), elem_id="qa-history",
                               js_on_load=None)
                live = gr.HTML("", elem_id="qa-live", js_on_load=None)
            with gr.Row(equal_height=False, elem_id="qa-ask-row"):
                box = gr.Textbox(label="Your question", placeholder="Type a question, then "
                                 "press Enter", elem_id="qa-question", scale=5, max_lines=4,
                                 autofocus=True)
                ask = gr.Button("Ask", variant="primary", scale=0, min_width=110,
                                elem_id="qa-ask", interactive=ready)
            examples = gr.Dataset(components=[box], label="Example questions", samples=[],
                                  elem_id="qa-examples", layout="gallery")
        with gr.Column(scale=1, min_width=260):
            new = gr.Button("New conversation", variant="secondary", elem_id="qa-new")
            with gr.Accordion("Filter articles", open=False, elem_id="qa-filters"):
                sources = gr.CheckboxGroup([], label="Publishers", info="Answer only from "
                                           "these (none ticked: all).", elem_id="qa-sources")
                since = gr.Textbox(label=SINCE_LABEL, placeholder="YYYY-MM-DD",
                                   max_length=30, elem_id="qa-since")
                until = gr.Textbox(label=UNTIL_LABEL, placeholder="YYYY-MM-DD",
                                   max_length=30, elem_id="qa-until")
            with gr.Accordion("Settings", open=False, elem_id="qa-settings"):
                k = gr.Slider(MIN_K, MAX_K, value=max(settings.k, MIN_K), step=1,
                              label="Passages to read", elem_id="qa-k",
                              info="How many of the best-matching passages an answer may draw "
                              "on. More can find answers spread over an article; fewer is "
                              "faster.")
                mode = gr.Radio(["extractive", "llm"], value="extractive", visible=False,
                                label="Answer with", elem_id="qa-mode",
                                info="extractive: quote the articles; llm: the language model "
                                "writes the answer from the passages it cites.")
            with gr.Accordion("Add articles", open=False, elem_id="qa-upload-box"):
                files = gr.File(label="Article files (" + " ".join(ALLOWED_SUFFIXES) + ")",
                                file_count="multiple", type="filepath", elem_id="qa-upload")
                upload_msg = gr.HTML("", elem_id="qa-upload-msg", js_on_load=None)
                with gr.Group(visible=handlers.removable):
                    uploaded = gr.Dropdown(uploaded_names(settings.index_dir), value=[],
                                           multiselect=True, label="Uploaded articles",
                                           info="Choose any to remove, with their articles.",
                                           elem_id="qa-uploaded")
                    remove = gr.Button("Remove", variant="stop", size="sm",
                                       elem_id="qa-remove")
    return _Page(status, chat, live, box, ask, examples, new, k, mode, sources, since, until,
                 files, upload_msg, uploaded, remove, gr.State([]),
                 gr.Timer(1.0, active=not ready), gr.Timer(STATUS_SECONDS),
                 gr.State(handlers.refresh_status()))


def _connect(page: _Page, handlers: Handlers, demo: gr.Blocks) -> None:
    """Wire the page's events to the handlers."""
    import gradio as gr

    concurrency = handlers.settings.answer_concurrency
    private: dict[str, Any] = {"api_visibility": "private"}
    chat_io: dict[str, Any] = {
        "fn": handlers.respond,
        "inputs": [page.box, page.turns, page.k, page.mode, page.sources, page.since,
                   page.until],
        "outputs": [page.box, page.chat, page.live, page.turns, page.ask],
        "concurrency_id": "answer", "concurrency_limit": concurrency,
        "show_progress": "hidden", **private,
    }
    # Enter pressed while an answer comes is not dropped: that question is asked next (the
    # Ask button is disabled meanwhile)
    page.box.submit(**{**chat_io, "fn": handlers.submitted}, trigger_mode="always_last")
    page.ask.click(**chat_io)
    page.examples.click(lambda sample: sample[0], page.examples, page.box, queue=False,
                        **private).then(**chat_io)
    page.new.click(handlers.reset, None, [page.turns, page.chat, page.live], queue=False,
                   **private)
    refresh_io = ([page.turns, page.sources, page.live],
                  [page.status, page.chat, page.examples, page.sources, page.ask, page.mode,
                   page.timer, page.live])
    page.timer.tick(handlers.refresh, *refresh_io, queue=False, show_progress="hidden",
                    **private)
    demo.load(handlers.refresh, *refresh_io, queue=False, show_progress="hidden", **private)
    page.status_timer.tick(handlers.changed_status,
                           [page.shown_status, page.turns, page.sources, page.uploaded],
                           [page.status, page.shown_status, page.chat, page.sources,
                            page.examples, page.uploaded], queue=False, show_progress="hidden",
                           **private)

    def add_articles(paths: list[str] | None,
                     progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        return handlers.add_articles(paths, progress)

    page.files.upload(lambda: "", None, page.upload_msg, queue=False, **private).then(
        add_articles, page.files, [page.upload_msg, page.status, page.files],
        concurrency_id="upload", concurrency_limit=1, **private).then(
        handlers.uploaded, None, page.uploaded, queue=False, **private).then(
        handlers.refresh, *refresh_io, queue=False, show_progress="hidden", **private)
    if handlers.removable:
        page.remove.click(handlers.remove_articles, page.uploaded,
                          [page.upload_msg, page.status, page.uploaded],
                          concurrency_id="upload", concurrency_limit=1, **private).then(
            handlers.refresh, *refresh_io, queue=False, show_progress="hidden", **private)
    demo.load(handlers.uploaded, None, page.uploaded, queue=False, **private)
    gr.api(handlers.ask, api_name="ask", concurrency_id="answer",
           concurrency_limit=concurrency)


def create_app(engine: QA | EngineLoader, *, removable: bool = True) -> gr.Blocks:
    """Build the Gradio page over a `qa.QA`, or over an `EngineLoader` still making one
    (not launched; `qa.ui.serve` launches it with `qa.ui.assets`' theme, CSS and script).
    `removable`: the page lets its users remove uploaded articles."""
    import gradio as gr

    loader = engine if isinstance(engine, EngineLoader) else EngineLoader.loaded(engine)
    with gr.Blocks(title="Article QA", analytics_enabled=False,
                   delete_cache=UPLOAD_CACHE) as demo:
        handlers = Handlers(loader, removable)
        _connect(_layout(handlers), handlers, demo)
    return demo
