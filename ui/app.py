"""The Gradio page: chat with streamed, cited answers; citation viewer; uploads; settings."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.ui.render import answer_markdown, citation_html, citation_label, md_escape, status_markdown
from qa.ui.uploads import ALLOWED_SUFFIXES, UploadError, drop_unindexed, store_uploads

from qa.core.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

__all__ = ["APP_CSS", "MAX_TURNS", "UPLOAD_CACHE", "app_theme", "create_app", "public_answer"]

#: Gradio's copies of uploaded files: every minute, those older than 10 minutes (uploaded
#: but never sent to an event) are deleted; the app deletes the others once it has read them.
UPLOAD_CACHE = (60, 600)
#: turns a conversation keeps (and shows): the oldest go first.
MAX_TURNS = 100

#: Page styles; Gradio 6 takes CSS at launch, so `serve` passes this.
APP_CSS = """
#qa-title h2 { font-weight: 600; margin-bottom: .25rem; }
#qa-citation .qa-cite-title { margin: 0 0 .25rem; font-size: 1.05rem; }
#qa-citation .qa-cite-meta, #qa-citation .qa-cite-file { margin: 0; opacity: .8; font-size: .9rem; }
#qa-citation .qa-flag { margin: .4rem 0; color: #b45309; font-weight: 600; }
#qa-citation .qa-cite-context { white-space: pre-wrap; margin: .5rem 0 0; padding: .5rem .75rem;
  border-left: 3px solid #9ca3af; max-height: 420px; overflow-y: auto; line-height: 1.5; }
#qa-citation mark { background: #fde68a; color: inherit; padding: 0 .1em; }
"""

def app_theme() -> Any:
    """Gradio's default theme on system fonts (its bundled bold face lacks some glyphs)."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


#: Scroll the citation's context so that the highlighted quote is in view.
_SCROLL_TO_MARK = """() => { const m = document.querySelector('#qa-citation mark');
  const q = m && m.closest('blockquote');
  if (q) q.scrollTop = Math.max(0, m.offsetTop - q.offsetTop - 60); }"""

_HINT = '<p class="qa-hint">Select a citation to see its passage in context.</p>'


def public_answer(answer: Any) -> dict:
    """`answer.to_dict()` without server paths: each article's `path` becomes `file`, its
    file name (a dict with a "path" key would also be taken for a file by gradio_client)."""
    data = answer.to_dict()
    for item in (*data.get("citations", []), *data.get("related", [])):
        article = item.get("article", {})
        path = str(article.pop("path", "") or "")
        article["file"] = path.replace("\\", "/").rsplit("/", 1)[-1]
    return data


def _history(turns: list[dict], last: int) -> list[dict]:
    """The `last` turns of the conversation as messages for `qa.answer`."""
    messages: list[dict] = []
    for turn in turns[-last:]:
        if turn.get("answer") is not None:
            messages += [{"role": "user", "content": turn["question"]},
                         {"role": "assistant", "content": turn["answer"]}]
    return messages


def _chat(turns: list[dict], question: str | None = None, partial: str | None = None) -> list:
    """Chatbot messages for the finished turns plus an optional turn in progress."""
    messages: list[dict] = []
    for turn in turns:
        messages += [{"role": "user", "content": md_escape(turn["question"])},
                     {"role": "assistant", "content": turn["markdown"]}]
    if question is not None:
        messages.append({"role": "user", "content": md_escape(question)})
        if partial:
            messages.append({"role": "assistant", "content": md_escape(partial)})
    return messages


def _cites(answer: Any) -> list[list[str]]:
    """`[label, html]` for each citation, then each related passage, of an answer."""
    short = answer.short
    return ([[citation_label(c), citation_html(c, short=short if short and short.citation == c.n
                                                else None)] for c in answer.citations]
            + [[citation_label(c, related=True), citation_html(c, related=True)]
               for c in answer.related])


def create_app(qa: Any) -> "gr.Blocks":
    """Build the Gradio page over a loaded `qa.QA` (not launched)."""
    import gradio as gr

    from qa.core.errors import QAError

    def status() -> str:
        return status_markdown(qa.stats)

    def picker(turns: list[dict], index: int | None) -> Any:
        if index is None or not 0 <= index < len(turns):
            return gr.Radio(choices=[], value=None, label="Citations")
        turn = turns[index]
        heading = "Citations for" if turn["cites"] else "No citations for"
        return gr.Radio(choices=[(label, str(i)) for i, (label, _) in enumerate(turn["cites"])],
                        value=None, label=f"{heading}: {turn['question'][:80]}")

    def respond(message: str, turns: list[dict], k: float | None,
                mode: str) -> Iterator[tuple]:
        question = (message or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turns = list(turns or [])[1 - MAX_TURNS:]  # a session's memory stays bounded
        yield "", _chat(turns, question), turns, gr.skip(), gr.skip(), gr.skip()
        text = ""
        try:
            if isinstance(k, float) and k.is_integer():  # the slider sends 6.0
                k = int(k)
            stream = qa.answer(question, history=_history(turns, settings.max_history_turns),
                               k=k, mode=mode, stream=True)
            for piece in stream:
                text += piece
                yield gr.skip(), _chat(turns, question, text), gr.skip(), gr.skip(), \
                    gr.skip(), gr.skip()
            answer = stream.answer
        except QAError as exc:
            turns.append({"question": question, "answer": None, "cites": [],
                          "markdown": f"⚠️ {md_escape(exc)}"})
            yield gr.skip(), _chat(turns), turns, picker(turns, len(turns) - 1), _HINT, None
            return
        turns.append({"question": question, "answer": answer.text,
                      "markdown": answer_markdown(answer), "cites": _cites(answer)})
        last = len(turns) - 1
        yield gr.skip(), _chat(turns), turns, picker(turns, last), _HINT, last

    def show_citation(choice: str | None, turns: list[dict], shown: int | None) -> str:
        if choice is None or shown is None or not 0 <= shown < len(turns):
            return _HINT
        cites = turns[shown]["cites"]
        i = int(choice)
        return cites[i][1] if 0 <= i < len(cites) else _HINT

    def select_message(turns: list[dict], evt: gr.SelectData) -> tuple:
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        shown = int(index) // 2 if index is not None else None
        return picker(turns, shown), _HINT, shown

    def reset() -> tuple:
        return [], [], picker([], None), _HINT, None

    def add_articles(paths: list[str] | None,
                     progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        if not paths:
            return gr.skip(), gr.skip(), gr.skip()
        folder = Path(qa.stats["index_dir"]) / "uploads"
        before = set(folder.iterdir()) if folder.is_dir() else set()
        try:
            stored = store_uploads(list(paths), qa.stats["index_dir"],
                                   max_bytes=settings.max_file_bytes)
        except UploadError as exc:
            return f"❌ {md_escape(exc)}", status(), None
        finally:  # Gradio's cached copies are servable: keep only ours
            _forget([Path(p) for p in paths], folders=True)
        progress(0, desc="Reading articles…")

        def on_progress(done: int, total: int) -> None:
            progress((done, max(total, 1)), desc="Embedding passages", unit="passages")

        try:
            report = qa.add_files([str(p) for p in stored], progress=on_progress)
        except QAError as exc:
            _forget([p for p in stored if p not in before])
            return f"❌ Not added: {md_escape(exc)}", status(), None
        refused = [n for n in report.notices if n.action in ("refused", "skipped")]
        kept = md_escape(", ".join(p.name for p in drop_unindexed(stored, report.kept_files)))
        if report.added or report.updated:
            head = f"✅ Added {kept}. {md_escape(report.summary)}"
        elif refused:
            head = "❌ Nothing was added."
        else:
            head = f"ℹ️ Already indexed{': ' + kept if kept else ''}. {md_escape(report.summary)}"
        lines = [head] + [
            f"{'❌' if n in refused else '⚠️'} {md_escape(Path(n.path).name)}: "
            f"{md_escape(n.action)}: {md_escape(n.message)}" for n in report.notices]
        return "  \n".join(lines), status(), None

    def ask(question: str, history: list[dict] | None = None, k: int | None = None,
            mode: str | None = None) -> dict:
        """Answer a question from the indexed articles; returns the answer with citations.

        history: earlier messages, [{"role": "user"|"assistant", "content": str}, ...]."""
        try:
            return public_answer(qa.answer(question, history=history or None, k=k, mode=mode))
        except QAError as exc:
            raise gr.Error(str(exc)) from exc

    settings = getattr(qa, "settings", None) or Settings()
    default_k = settings.k
    concurrency = settings.answer_concurrency
    modes = ["extractive", "llm"] if qa.llm_available else ["extractive"]
    private: dict[str, Any] = {"api_visibility": "private"}

    with gr.Blocks(title="Article QA", analytics_enabled=False,
                   delete_cache=UPLOAD_CACHE) as demo:
        gr.Markdown("## Article QA\nAsk about the indexed news articles. Every answer cites "
                    "the passages it comes from; select a citation to read it in context.",
                    elem_id="qa-title")
        status_line = gr.Markdown(status(), elem_id="qa-status")
        turns = gr.State([])
        shown = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation", elem_id="qa-chat", height=520, latex_delimiters=[],
                    allow_tags=False, sanitize_html=True, feedback_options=None,
                    buttons=["copy"], placeholder="Ask a question about the articles.")
                with gr.Row():
                    box = gr.Textbox(show_label=False, placeholder="Type a question, then Enter",
                                     elem_id="qa-question", scale=5, max_lines=4,
                                     autofocus=True, submit_btn=False,
                                     max_length=settings.max_question_chars)
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                examples = gr.Dataset(components=[box], label="Example questions",
                                      samples=[[q] for q in qa.example_questions(4)],
                                      elem_id="qa-examples", layout="table")
                new_btn = gr.Button("New conversation", size="sm", variant="secondary")
            with gr.Column(scale=2):
                picker_box = gr.Radio(choices=[], label="Citations", elem_id="qa-citations")
                detail = gr.HTML(_HINT, elem_id="qa-citation", js_on_load=None,
                                 apply_default_css=True)
                with gr.Accordion("Settings", open=False):
                    k_slider = gr.Slider(1, 12, value=default_k, step=1,
                                         label="Passages to search (k)")
                    mode_radio = gr.Radio(
                        modes, value="extractive", label="Answer mode",
                        info=None if qa.llm_available else "No language model configured: "
                        "answers quote the articles.")
                with gr.Accordion("Add articles", open=False, elem_id="qa-upload-box"):
                    files = gr.File(label="Article files (" + " ".join(ALLOWED_SUFFIXES) + ")",
                                    file_count="multiple", file_types=list(ALLOWED_SUFFIXES),
                                    type="filepath", elem_id="qa-upload")
                    upload_msg = gr.Markdown(elem_id="qa-upload-msg")

        chat_io: dict[str, Any] = {
            "fn": respond, "inputs": [box, turns, k_slider, mode_radio],
            "outputs": [box, chatbot, turns, picker_box, detail, shown],
            "concurrency_id": "answer", "concurrency_limit": concurrency,
            "show_progress": "minimal", **private,
        }
        box.submit(**chat_io)
        ask_btn.click(**chat_io)
        examples.click(lambda sample: sample[0], examples, box, queue=False,
                       **private).then(**chat_io)
        for clear in (new_btn.click, chatbot.clear):
            clear(reset, None, [turns, chatbot, picker_box, detail, shown], queue=False,
                  **private)
        picker_box.change(show_citation, [picker_box, turns, shown], detail, queue=False,
                          **private).then(None, js=_SCROLL_TO_MARK, **private)
        chatbot.select(select_message, [turns], [picker_box, detail, shown], queue=False,
                       **private)
        files.upload(lambda: "", None, upload_msg, queue=False, **private).then(
            add_articles, files, [upload_msg, status_line, files], concurrency_id="upload",
            concurrency_limit=1, **private)
        demo.load(status, None, status_line, queue=False, **private)
        gr.api(ask, api_name="ask", concurrency_id="answer", concurrency_limit=concurrency)
    return demo


def _forget(paths: list[Path], folders: bool = False) -> None:
    """Remove files (uploads that were not indexed; Gradio's temporary copies, each in a
    folder of its own that goes too when `folders`)."""
    for path in paths:
        path.unlink(missing_ok=True)
        if folders:
            with contextlib.suppress(OSError):  # not empty: not only ours
                path.parent.rmdir()
