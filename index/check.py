"""`qa index --check`: verify every generation of an index and say what is wrong."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from qa.index.generations import (
    GenerationDamaged,
    foreign_entries,
    generations,
    read_pointer,
    verify_checksums,
)
from qa.index.store import load_generation, open_index

from qa.core.errors import (
    IndexDamagedError,
    IndexFallbackWarning,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
)

__all__ = ["GenerationCheck", "IndexCheck", "check_index"]


@dataclass
class GenerationCheck:
    """One generation: what is wrong with it (nothing, when `problems` is empty)."""

    name: str
    current: bool
    problems: list[str] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    #: whether the manifest recorded checksums (indexes built before them did not).
    checksums: bool = False

    def __str__(self) -> str:
        label = f"{self.name}{' (current)' if self.current else ''}"
        if self.problems:
            unused = "" if self.current else " (not in use; a later `qa index` removes it)"
            return f"{label}: damaged: {'; '.join(self.problems)}{unused}"
        verified = "files match their recorded sizes and sha256" if self.checksums else \
            "no checksums recorded (built before them; --rebuild adds them)"
        return f"{label}: ok: {self.articles} articles, {self.chunks} chunks; {verified}"


@dataclass
class IndexCheck:
    """The verdict on an index directory."""

    index_dir: Path
    pointer_problem: str | None
    generations: list[GenerationCheck]
    #: the generation questions are answered from (None: none can be opened).
    answering: str | None

    @property
    def problems(self) -> list[str]:
        """What is wrong with the pointer or the current generation (older generations are
        not in use: their damage is listed in `lines` only)."""
        return ([self.pointer_problem] if self.pointer_problem else []) + \
            [str(g) for g in self.generations if g.problems and g.current]

    @property
    def ok(self) -> bool:
        return not self.problems and any(g.current for g in self.generations)

    @property
    def lines(self) -> list[str]:
        return ([self.pointer_problem] if self.pointer_problem else []) + \
            [str(g) for g in self.generations]

    def error(self) -> IndexDamagedError:
        """The typed error for a damaged index: what is wrong and what to run."""
        rebuild = f"qa index PATH... --rebuild --index-dir {self.index_dir}"
        wrong = f"Index at {self.index_dir} is damaged ({'; '.join(self.problems)})"
        using = next((g for g in self.generations if g.name == self.answering), None)
        if using is None:
            return IndexDamagedError(f"{wrong} and no intact generation is left; rebuild it: "
                                     f"{rebuild}")
        if using.problems:
            return IndexDamagedError(f"{wrong}; questions are answered from {using.name} "
                                     f"although its files changed since they were written; "
                                     f"rebuild it: {rebuild}")
        return IndexDamagedError(f"{wrong}; questions are answered from {using.name}, which is "
                                 f"intact: `qa index PATH... --index-dir {self.index_dir}` "
                                 f"writes a new current generation from it, or rebuild: "
                                 f"{rebuild}")


def check_index(index_dir: str | Path) -> IndexCheck:
    """Verify the pointer and every generation: structure, sizes and sha256 checksums.
    Raises `IndexNotFoundError` when there is no index at all."""
    index_dir = Path(index_dir).expanduser()
    pointer = read_pointer(index_dir)
    found = generations(index_dir)
    if pointer.name is None and pointer.problem is None:
        raise IndexNotFoundError(index_dir, strangers=foreign_entries(index_dir))
    problem = pointer.problem
    if pointer.name is not None and pointer.name not in {g.name for g in found}:
        problem = f"CURRENT names {pointer.name}, which does not exist"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IndexFallbackWarning)
        try:
            answering: str | None = open_index(index_dir).path.name
        except QAError:
            answering = None
    return IndexCheck(index_dir, problem,
                      [_check_generation(g, index_dir, g.name == pointer.name) for g in found],
                      answering)


def _check_generation(generation: Path, index_dir: Path, current: bool) -> GenerationCheck:
    result = GenerationCheck(generation.name, current)
    try:
        index = load_generation(generation, index_dir)
    except (GenerationDamaged, IndexMismatchError) as exc:
        result.problems.append(str(exc))
        return result
    records = index.manifest.get("files")
    result.articles, result.chunks = len(index.articles), len(index.chunks)
    result.checksums = isinstance(records, dict)
    if result.checksums:
        result.problems.extend(verify_checksums(generation, records))
    return result
