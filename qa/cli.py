"""The `qa` command: index articles, ask questions, serve the chat, evaluate.

Heavy libraries are imported inside the commands, so `qa --help` answers at once."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa.core.errors import InputError, QAError

if TYPE_CHECKING:
    from qa.core.settings import Settings
    from qa.engine import QA

__all__ = ["main"]

_python_show_warning = warnings.showwarning

def _folder_path(_context: click.Context, _option: click.Parameter,
                 value: str | None) -> Path | None:
    """A folder option's value as a path; an empty one is refused (not read as ".")."""
    if value is not None and not value.strip():
        raise click.BadParameter("must be a folder path, not empty.")
    return None if value is None else Path(value)


_index_dir = click.option("--index-dir", type=click.Path(), default=None, callback=_folder_path,
                          help="Index directory [env QA_INDEX_DIR; default "
                               "~/.local/share/article-qa/index].")
_model = click.option("--model", default=None, help="sentence-transformers model name or "
                      "path [env QA_MODEL; default: the index's own, else the bundled "
                      "all-MiniLM-L6-v2].")
_store = click.option("--store", default=None, metavar="URL", help="Keep the index in this "
                      "PostgreSQL + pgvector database instead of a directory: "
                      "postgresql://user@host:5432/db [env QA_STORE]. A password in it is "
                      "visible in `ps`: prefer QA_STORE, PGPASSWORD or ~/.pgpass.")
_llm = click.option("--llm", default=None, metavar="SPEC", help="Answer with a language model "
                    "(see README): openai:URL#MODEL, ollama:MODEL, gguf:PATH or smollm2.")


def _settings(index_dir: Path | None, model: str | None = None, **extra: object):
    from qa.core.settings import Settings
    from qa.core.urls import mask_password

    store = extra.get("store")  # (given on the command line: QA_STORE is read in Settings)
    if isinstance(store, str) and mask_password(store)[1]:
        click.echo("Warning: --store shows the database password to every user of this "
                   "machine (ps); use QA_STORE, PGPASSWORD or ~/.pgpass.", err=True)

    return Settings.from_env(index_dir=index_dir, model=model, **extra)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="article-qa")
def cli() -> None:
    """Ask questions about a folder of news articles; every answer cites its passages."""


@cli.command("index")
@click.argument("paths", nargs=-1)
@_index_dir
@_store
@_model
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and embed everything "
              "(a store: one writer, without --shard).")
@click.option("--shard", default=None, metavar="I/N", help="With --store: index only the I-th "
              "of N parts of the files (0 <= I < N), one writer per part.")
@click.option("--max-file-mb", type=float, default=None, help="Refuse larger files [default 5].")
@click.option("--check", is_flag=True, help="Only verify the index (every file's size and "
              "sha256) and say what is wrong; exit 1 when it is damaged.")
def index_command(paths: tuple[str, ...], index_dir: Path | None, store: str | None,
                  model: str | None, rebuild: bool, shard: str | None,
                  max_file_mb: float | None, check: bool) -> None:
    """Build or update the index from article files and folders (.txt .md .html .json .jsonl .pdf).

    Unchanged articles are not embedded again; articles whose files under PATHS were deleted
    are removed; articles indexed from other paths are kept. Links are not followed out of
    the folders given."""
    if check:
        if paths:
            raise click.UsageError("--check verifies the index only: give it no PATHS.")
        settings = _settings(index_dir, store=store)
        if settings.store:  # (--store, or QA_STORE)
            raise click.UsageError("--check verifies an index directory; PostgreSQL checks "
                                   "its own data (each article is one transaction).")
        _check(settings.index_dir)
        return
    if not paths:
        raise click.UsageError("Missing argument 'PATHS...' (or use --check).")
    from qa.core.settings import megabytes
    from qa.index.postgres import index_into

    max_bytes = None if max_file_mb is None else megabytes(max_file_mb, "--max-file-mb")
    settings = _settings(index_dir, model, max_file_bytes=max_bytes, store=store)
    try:
        report = index_into(paths, settings, rebuild=rebuild, shard=shard,
                            progress=_progress_bar())
    except KeyboardInterrupt:
        click.echo("\nInterrupted. " + (
            "The articles written before are stored whole, the rest not at all: run the same "
            "command again to finish." if settings.store else "The index is as the last "
            "complete build left it (a build takes effect only once written whole)."), err=True)
        raise click.exceptions.Abort() from None
    from qa.render import for_terminal

    for notice in report.notices:
        click.echo(for_terminal(str(notice)), err=True)
    for path in report.removed:
        click.echo(for_terminal(f"{path}: removed: {report.why_removed(path, rebuild)}"),
                   err=True)
    if report.indexed_nothing:
        raise InputError("Nothing under the paths given could be indexed (see above); the "
                         "index is as it was.")
    if settings.store:
        from qa.index.postgres_schema import describe_url

        click.echo(f"{report.summary}\nstore: {describe_url(settings.store)}")
    else:
        click.echo(f"{report.summary}\nindex: {settings.index_dir}")


def _check(index_dir: Path) -> None:
    from qa.index.check import check_index

    verdict = check_index(index_dir)
    click.echo(f"index: {index_dir}")
    for line in verdict.lines:
        click.echo(line)
    if not verdict.ok:
        raise verdict.error()


def _progress_bar() -> Callable[[int, int], None]:
    """A progress callback that draws a bar once embedding takes more than a moment."""
    import time

    state: dict[str, object] = {"bar": None, "started": time.monotonic(), "done": 0}

    def update(done: int, total: int) -> None:
        bar = state["bar"]
        if bar is None:
            if time.monotonic() - float(state["started"]) < 1.0 and done < total:  # type: ignore[arg-type]
                return
            bar = state["bar"] = click.progressbar(length=total, label="embedding passages",
                                                   file=sys.stderr)
            bar.__enter__()
        bar.update(done - int(state["done"]))  # type: ignore[union-attr, call-overload]
        state["done"] = done
        if done >= total:
            bar.__exit__(None, None, None)  # type: ignore[union-attr]

    return update


@cli.command()
@click.argument("question")
@_index_dir
@_store
@_model
@_llm
@click.option("-k", type=int, default=None, help="Passages to retrieve [default 6].")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only articles from this publisher or file (repeatable).")
@click.option("--since", default=None, metavar="YYYY-MM-DD",
              help="Only articles published on or after this date.")
@click.option("--until", default=None, metavar="YYYY-MM-DD",
              help="Only articles published on or before this date.")
def ask(question: str, index_dir: Path | None, store: str | None, model: str | None,
        llm: str | None,
        k: int | None, as_json: bool, sources: tuple[str, ...], since: str | None,
        until: str | None) -> None:
    """Answer QUESTION from the indexed articles, with numbered sources."""
    from qa.render import for_terminal, json_for_terminal, render_answer

    engine = _open_engine(_settings(index_dir, model, store=store), llm)
    where = {"k": k, "sources": list(sources), "since": since, "until": until}
    if as_json:
        click.echo(json_for_terminal(engine.answer(question, **where).to_dict()))
        return
    stream = engine.stream(question, **where)
    for piece in stream:
        click.echo(for_terminal(piece), nl=False)
    click.echo()
    click.echo(for_terminal(render_answer(stream.answer, text=False)))


@cli.command()
@_index_dir
@_store
@_model
@_llm
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; 0.0.0.0 exposes the chat to the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--auth-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Require a login: one user:password per line of this file "
              "(chmod 600 it).")
@click.option("--auth", default=None, metavar="USER:PASSWORD",
              help="Require this login. Visible to every user in `ps`: prefer the QA_AUTH "
              "environment variable or --auth-file.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Answers computed at the same time [default: one per CPU core, 2 to 8].")
@click.option("--index", "index_paths", multiple=True, type=click.Path(),
              help="Index these files/folders first (repeatable); the page is up meanwhile "
              "and shows the progress.")
@click.option("--watch/--no-watch", default=True, show_default=True,
              help="With --index: index files added, changed or deleted there while serving "
              "(looked for every 3 s).")
@click.option("--open", "open_browser", is_flag=True, help="Open the chat in the web browser.")
def serve(index_dir: Path | None, store: str | None, model: str | None, llm: str | None,
          host: str, port: int,
          auth_file: Path | None, auth: str | None, concurrency: int | None,
          index_paths: tuple[str, ...], watch: bool, open_browser: bool) -> None:
    """Serve the chat on http://HOST:PORT (Gradio); --open opens it in the browser.

    With --index, the page is up at once, shows how far indexing has come and takes
    questions when the index is ready; files dropped into those folders later are indexed
    within seconds. An index changed by `qa index` meanwhile is answered from too. A login
    is read from --auth-file, else --auth, else the QA_AUTH environment variable
    (user:password); without one, anyone who can reach the port may ask and upload. A login
    lasts 12 hours (QA_LOGIN_HOURS). Repeated failed logins from one address are slowed down
    (429, waits doubling)."""
    from qa.ui.serve import serve as launch
    from qa.ui.startup import EngineLoader

    credentials = _logins(auth_file, auth)
    settings = _settings(index_dir, model, answer_concurrency=concurrency, store=store)
    for path in index_paths:  # before the page is up and says "Chat on ..."
        if not Path(path).expanduser().exists():
            raise InputError(f"--index {path}: no such file or folder")
    if index_paths:  # the page is up while the index builds
        loader = EngineLoader(  # started by `launch` once the page is up
            lambda report: _load_engine(settings, llm, index_paths, report, watch), settings)
    else:  # a missing or damaged index fails here, with its message, before serving
        loader = EngineLoader.loaded(_load_engine(settings, llm, (), None, watch=False))
    if open_browser and not _has_browser():
        click.echo("Note: no web browser found here for --open: open the address below in one.",
                   err=True)
        open_browser = False
    launch(loader, host=host, port=port, auth=credentials, open_browser=open_browser,
           announce=lambda url: click.echo(f"Chat on {url} (Ctrl+C to stop)"))


def _has_browser() -> bool:
    """Whether Python's `webbrowser` (what --open uses) finds a browser to start."""
    import webbrowser

    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _open_engine(settings: Settings, llm: str | None) -> QA:
    """The engine, its language model (if any) loaded now: a setting that names no usable
    model is an error here, not a note under every answer or a fallback measured as the
    model's."""
    from qa.core.urls import mask_password
    from qa.engine import QA

    engine = QA(settings=settings, llm=llm)
    if llm:
        click.echo(f"loading language model {mask_password(llm)[0]} ...", err=True)
        engine.chat_model  # noqa: B018
    return engine


def _load_engine(settings, llm: str | None, index_paths: tuple[str, ...], report,
                 watch: bool):
    """Index `index_paths` (if any), then open the engine and warm it up; `report(stage,
    done, total)` follows the progress (the terminal shows a bar too). With `watch`, changes
    under `index_paths` from the start of indexing on are indexed while serving."""
    from qa.index.watch import FolderWatcher

    watcher = FolderWatcher(index_paths, settings.watch_seconds) if index_paths and watch \
        else None
    if index_paths:
        from qa.index.postgres import index_into

        bar = _progress_bar()

        def progress(done: int, total: int) -> None:
            bar(done, total)
            report("Embedding passages", done, total)

        report("Reading the articles and loading the embedding model", 0, 0)
        click.echo(index_into(index_paths, settings, progress=progress).summary)
    if report is not None:
        report("Loading the index", 0, 0)
    engine = _open_engine(settings, llm)
    engine.retrieve("warm up", k=1)  # load the query model now, not on the first question
    stats = engine.stats
    click.echo(f"Ready: {stats.articles} articles, {stats.chunks} passages.")
    if watcher is not None:
        watcher.start(engine.add_files, click.echo)
        click.echo(f"Watching {', '.join(index_paths)}: files added, changed or deleted there "
                   "are indexed within seconds.")
    return engine


def _logins(auth_file: Path | None, auth: str | None) -> list[tuple[str, str]] | None:
    """The logins `qa serve` requires, from --auth-file, --auth or QA_AUTH."""
    import os

    from qa.ui.serve import parse_auth, read_auth_file

    if auth_file and auth:
        raise click.UsageError("Give --auth-file or --auth, not both.")
    try:
        if auth_file:
            return read_auth_file(auth_file)
        if auth:
            click.echo("Warning: --auth shows the password to every user of this machine "
                       "(ps); use QA_AUTH or --auth-file.", err=True)
        login = parse_auth(auth or os.environ.get("QA_AUTH"))
    except InputError as exc:
        hint = "--auth-file" if auth_file else "--auth" if auth else "QA_AUTH"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    return [login] if login else None


@cli.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_index_dir
@_store
@_model
@_llm
@click.option("-k", type=int, default=None, help="Passages to retrieve [default 6].")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Only the first N questions.")
@click.option("--oracle", is_flag=True,
              help="Answer each question from its gold source articles only.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def eval_command(questions: Path, index_dir: Path | None, store: str | None,
                 model: str | None, llm: str | None,
                 k: int | None, limit: int | None, oracle: bool, as_json: bool) -> None:
    """Measure answers on a question set (JSONL: question, answers, sources)."""
    from qa.evaluate import evaluate, format_report, load_questions
    from qa.render import for_terminal, json_for_terminal

    engine = _open_engine(_settings(index_dir, model, store=store), llm)
    report = evaluate(engine, load_questions(questions)[:limit], k=k, oracle=oracle)
    click.echo(json_for_terminal(report.to_dict()) if as_json
               else for_terminal(format_report(report)))


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings (a damaged index generation, an unknown setting) as one line, like
    errors; others as Python shows them."""
    from qa.core.errors import ConfigWarning, IndexFallbackWarning

    if issubclass(category, IndexFallbackWarning | ConfigWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def main() -> None:
    """Entry point: run the CLI; errors print one line and exit non-zero."""
    warnings.showwarning = _show_warning
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except QAError as exc:
        from qa.render import for_terminal

        click.echo(f"Error: {for_terminal(str(exc))}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
