"""Batches of files for the ``tinct`` commands: which input goes to which output, checked
before any work, and a run that always finishes the good files.

- :func:`walk_images` lists the images of a folder and reports what it cannot or will not
  read (unreadable subfolders, broken links, links to folders, which are not followed);
- :func:`plan` maps inputs (files and folders) to outputs and reports, per input, every
  problem found before work starts (a missing file, a file that is not an image, two inputs
  that would be written to one output, an output that would overwrite an input); an output
  folder that is an input folder, or lies inside one, is a :class:`UsageError`: tinct never
  writes over or into its inputs;
- :func:`run` does the work file by file with a progress bar, keeps going past failures and
  prints one line per failure and a summary; its status is 1 when anything failed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Plan", "UsageError", "plan", "run", "walk_images"]


class UsageError(ValueError):
    """A command line that cannot work as given (a flag, an output path); exit status 2."""


@dataclass
class Plan:
    """jobs: ``(input, output)`` pairs to run; failed: ``(path, reason)`` for inputs that cannot
    run (found before any work); notes: lines to tell the user (e.g. files that are not images)."""

    jobs: list[tuple[Path, Path]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def walk_images(folder: Path) -> tuple[list[Path], list[tuple[Path, str]], int]:
    """The image files under ``folder`` (recursive, sorted), the entries that could not be
    read ``(path, reason)``, and how many other files were left out as not images. Symbolic
    links to files are followed; links to folders are not (no loops), and are reported."""
    from tinct.image import is_image_file  # not at import: `tinct --help` must not load torch

    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    others = 0

    def unreadable(error: OSError) -> None:
        problems.append((Path(error.filename or folder), f"cannot read this folder ({error.strerror or error})"))

    for root, folders, names in os.walk(folder, onerror=unreadable, followlinks=False):
        base = Path(root)
        for name in folders:
            if (base / name).is_symlink():
                problems.append((base / name, "a symbolic link to a folder: not followed (give the folder itself)"))
        for name in names:
            path = base / name
            if path.is_symlink() and not path.exists():
                problems.append((path, "a broken symbolic link"))
            elif is_image_file(path):
                files.append(path)
            else:
                others += 1
    return sorted(files), problems, others


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def plan(inputs: list[Path], output: Path, *, suffix: str = ".png", file_suffixes: tuple[str, ...] = (".png",),
         format_flag: str | None = None) -> Plan:
    """Map ``inputs`` to outputs under ``output``.

    One input file and an ``output`` with a suffix (not an existing folder): that file, which
    must end in one of ``file_suffixes``. Otherwise ``output`` is a folder: files go to
    ``output/STEM+suffix``, a single folder is mirrored into it, several folders into
    ``output/FOLDER_NAME/``. Problems of single inputs go to :attr:`Plan.failed` (the rest still
    run); a command line that cannot work at all raises :class:`UsageError`.
    """
    from tinct.image import IMAGE_SUFFIXES, is_image_file  # not at import (see walk_images)

    result = Plan()
    single = len(inputs) == 1 and not inputs[0].is_dir() and output.suffix and not output.is_dir()
    if single:
        if output.suffix.lower() not in file_suffixes:
            raise UsageError(f"output {output} must end in {' or '.join(file_suffixes)} (or be a folder)")
        if format_flag is not None and f".{format_flag}" != output.suffix.lower():
            raise UsageError(f"--format {format_flag} contradicts the output file {output}")
    else:
        if output.exists() and not output.is_dir():
            raise UsageError(f"the output {output} is a file, but {'several inputs' if len(inputs) > 1 else 'a folder'} "
                             f"need a folder")
        if output.suffix.lower() in file_suffixes and not output.exists():
            raise UsageError(f"{'several inputs need' if len(inputs) > 1 else 'a folder as input needs'} a folder as output, "
                             f"not {output} (a folder name without a suffix; --format chooses the files' format)")
        for source in inputs:
            if source.is_dir() and _inside(output, source):
                raise UsageError(f"the output folder {output} is the input folder {source} or inside it: tinct never "
                                 f"writes over or into its inputs; choose another output folder")
    planned: list[tuple[Path, Path]] = []
    for source in inputs:
        if source.is_symlink() and not source.exists():
            result.failed.append((source, "a broken symbolic link"))
        elif not source.exists():
            result.failed.append((source, "no such file or folder"))
        elif source.is_dir():
            files, problems, others = walk_images(source)
            result.failed += problems
            if others:
                result.notes.append(f"{source}: left out {others} file(s) that are not images "
                                    f"({', '.join(IMAGE_SUFFIXES)})")
            if not files and not problems:
                result.failed.append((source, "no images in this folder"))
            base = output if len(inputs) == 1 else output / source.resolve().name
            planned += [(path, (base / path.relative_to(source)).with_suffix(suffix)) for path in files]
        elif not is_image_file(source):
            result.failed.append((source, f"not an image file ({source.suffix or 'no suffix'}); tinct reads "
                                          f"{', '.join(IMAGE_SUFFIXES)}"))
        else:
            planned.append((source, output if single else output / f"{source.stem}{suffix}"))
    inputs_resolved = {source.resolve() for source, _ in planned}
    taken: dict[Path, Path] = {}
    for source, target in planned:
        resolved = target.resolve()
        if resolved in inputs_resolved:
            result.failed.append((source, f"its output {target} is an input: tinct never writes over its inputs"))
        elif resolved in taken:
            result.failed.append((source, f"would be written to {target}, like {taken[resolved]}: rename one"))
        else:
            taken[resolved] = source
            result.jobs.append((source, target))
    return result


def run(batch: Plan, work: Callable[[Path, Path], None], *, desc: str,
        errors: tuple[type[BaseException], ...] = (ValueError, OSError, MemoryError)) -> int:
    """Run ``work(input, output)`` on every job with a progress bar; keep going past
    ``errors``; print the notes, one line per failure (found before or during the work) and a
    summary. Returns the exit status: 1 when anything failed, else 0."""
    from tqdm import tqdm

    failures = list(batch.failed)
    for source, target in tqdm(batch.jobs, desc=desc, unit="image", disable=len(batch.jobs) < 2, file=sys.stderr):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            failures.append((source, f"cannot write {target}: cannot make the folder {target.parent} "
                                     f"({error.strerror or error})"))
            continue
        try:
            work(source, target)
        except MemoryError:
            failures.append((source, "not enough memory for this image (lower --max-pixels, or free memory)"))
        except errors as error:
            message = " ".join(str(error).split())
            failures.append((source, message.removeprefix(f"{source}: ")))  # the line names the file already
    total = len(batch.jobs) + len(batch.failed)
    for note in batch.notes:
        print(f"{desc}: {note}", file=sys.stderr)
    if total > 1 or failures:
        print(f"{desc}: {total - len(failures)} of {total} image(s) written"
              + (f", {len(failures)} failed:" if failures else ""), file=sys.stderr)
    for source, reason in failures:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    return 1 if failures else 0
