"""Typed errors shared by the write path and the read path.

Every message says what went wrong and what to do about it. `qa` re-exports these.
"""

__all__ = [
    "ConfigWarning",
    "EmptyQuestionError",
    "IndexDamagedError",
    "IndexFallbackWarning",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InputError",
    "LLMError",
    "NoArticlesError",
    "QAError",
    "QuestionTooLongError",
    "ReaderModelError",
    "StoreUnavailableError",
    "UnusableFileError",
]


class QAError(Exception):
    """Base class of every error article-qa raises on purpose."""


class InputError(QAError):
    """A parameter, path or file given by the user cannot be used."""


class ConfigWarning(UserWarning):
    """A setting in the environment is unknown (a misspelt `QA_*` name) and was ignored."""


class NoArticlesError(InputError):
    """Nothing under the given paths could be indexed."""


class UnusableFileError(InputError):
    """An article file cannot be indexed: `action` is "refused" (unsafe or too large) or
    "skipped" (nothing to index in it), `reason` says why."""

    def __init__(self, path: object, action: str, reason: str) -> None:
        super().__init__(f"{path}: {action}: {reason}")
        self.path, self.action, self.reason = str(path), action, reason


class IndexNotFoundError(QAError):
    """There is no index at the given directory yet."""

    def __init__(self, index_dir: object, option: str = "--index-dir",
                 strangers: list[str] | None = None) -> None:
        if strangers:  # a folder of other things: an index cannot be built there either
            shown = ", ".join(strangers[:5]) + (", ..." if len(strangers) > 5 else "")
            super().__init__(f"No article index at {index_dir}: it holds other things "
                             f"({shown}). Give the folder of an index, or build one in a new "
                             f"or empty folder: qa index PATH {option} NEW-FOLDER")
            return
        super().__init__(
            f"No article index at {index_dir}. Build one first: "
            f"qa index PATH {option} {index_dir}"
        )


class IndexMismatchError(QAError):
    """The index on disk was built with another model, dimension or format version."""


class IndexDamagedError(QAError):
    """The index on disk is damaged and no intact generation of it is left."""


class StoreUnavailableError(QAError):
    """The database that holds the index cannot be reached (now); the message names its host
    and port, never its password."""


class IndexFallbackWarning(UserWarning):
    """The current index generation is damaged, or could not be opened again after another
    process changed it; an older intact one answers instead."""


class EmptyQuestionError(QAError):
    """The question is empty or holds no words."""


class LLMError(QAError):
    """A configured language model could not be used. `brief` says what happened without
    the model server's or the client's own words, which the message may hold and which may
    name addresses, files or settings: a chat's visitors are shown the brief, the server's
    log the message."""

    def __init__(self, message: str, brief: str | None = None) -> None:
        super().__init__(message)
        self.brief = brief or message


class QuestionTooLongError(QAError):
    """The question is longer than any sensible question."""


class ReaderModelError(QAError):
    """The trained reader model is missing, damaged or of another format."""
