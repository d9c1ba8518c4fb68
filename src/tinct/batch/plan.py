"""Which files a batch colours and where each result goes: the input tree mirrored, no two names equal.

A folder given on the command line is a root: its images (and with ``recursive`` those of its
subfolders) keep their path relative to it under the output folder. Files and glob matches are
placed at the top of the output folder. Outputs are ``<stem>_<method>.png``; inputs that would
share a name get their extension in it (``x.jpg`` and ``x.tif`` -> ``x_jpg_<method>.png`` and
``x_tif_<method>.png``), and any name still shared gets ``-2``, ``-3``... in command-line order.
Names depend only on the set of inputs, so a re-run plans the same names.
"""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tinct.io import IMAGE_EXTENSIONS, list_images

OUTPUT_SUFFIX = ".png"


@dataclass(frozen=True)
class Job:
    """One input and its output.

    Attributes:
        input: the image file as found (relative or absolute, as the user named it).
        output: the output path relative to the output folder (POSIX-style when printed).
        problem: why it cannot be written (it would replace an input), or None.
    """

    input: Path
    output: Path
    problem: str | None = None


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _walk(root: Path, exclude: Path | None) -> list[Path]:
    """Images under ``root`` in every subfolder (hidden ones and ``exclude`` skipped), sorted."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (exclude is None or (here / d).resolve() != exclude))
        found.extend(here / f for f in sorted(files) if _is_image(here / f))
    return found


def find_inputs(sources: list[str], *, recursive: bool = False, exclude: Path | None = None
                ) -> tuple[list[tuple[Path, Path]], list[str]]:
    """``(image, folder relative to its root)`` for every source, de-duplicated, in command-line order,
    and the sources (folders, globs) that gave no image.

    A file path is kept even if it does not exist, so that the batch reports it on its own line.
    ``exclude`` (the output folder, resolved) is never walked into.
    """
    found: list[tuple[Path, Path]] = []
    empty: list[str] = []

    def add_folder(folder: Path) -> None:
        images = _walk(folder, exclude) if recursive else list_images(folder)
        found.extend((p, p.parent.relative_to(folder)) for p in images)

    for source in sources:
        expanded = os.path.expanduser(source)
        path = Path(expanded)
        before = len(found)
        if path.is_dir():
            add_folder(path)
        elif glob.has_magic(expanded) and not path.exists():
            for match in sorted(Path(m) for m in glob.glob(expanded)):
                if match.is_dir():
                    add_folder(match)
                elif _is_image(match):
                    found.append((match, Path()))
        else:
            found.append((path, Path()))
        if len(found) == before:
            empty.append(source)
    seen: set[Path] = set()
    unique = []
    for path, rel in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((path, rel))
    return unique, empty


def plan_jobs(found: list[tuple[Path, Path]], method: str, out_dir: Path) -> list[Job]:
    """One :class:`Job` per input: names as in the module docstring; an output that would be one of
    the inputs (``--out-dir`` = the input folder) gets a ``problem`` instead of being written."""
    by_stem: dict[tuple[Path, str], set[str]] = defaultdict(set)
    for path, rel in found:
        by_stem[(rel, path.stem)].add(path.suffix.lower())
    names: list[Path] = []
    for path, rel in found:
        clash = len(by_stem[(rel, path.stem)]) > 1
        extension = f"_{path.suffix.lower().lstrip('.')}" if clash else ""
        names.append(rel / f"{path.stem}{extension}_{method}{OUTPUT_SUFFIX}")
    taken: set[Path] = set()
    inputs = {path.resolve() for path, _ in found}
    jobs = []
    for (path, _), name in zip(found, names, strict=True):
        final, k = name, 1
        while final in taken:
            k += 1
            final = name.with_name(f"{name.stem}-{k}{OUTPUT_SUFFIX}")
        taken.add(final)
        problem = None
        if (out_dir / final).resolve() in inputs:
            problem = f"refusing to replace the input image {out_dir / final}; choose another --out-dir"
        jobs.append(Job(path, final, problem))
    return jobs
