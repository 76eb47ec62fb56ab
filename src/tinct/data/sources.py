"""Datasets beyond OpenMoji, fetched on demand: ``tinct data prepare NAME``.

Each source is one pinned npm package of SVG art (:data:`SOURCES`). :func:`prepare` gets its
tarball (``npm pack PACKAGE@VERSION``, or a tarball the user downloaded: ``--from FILE``),
checks that it is that package and version, and extracts only the files the source needs
into ``$TINCT_CACHE_DIR/sources/NAME-VERSION/`` (default ``~/.cache/tinct``), refusing
members with absolute paths or ``..``; a ``ready.json`` written last marks the folder
complete (the extraction happens in a temporary folder renamed into place). Preparing a
prepared source does nothing.

Every source's dataset gives the samples of :class:`tinct.data.openmoji.OpenMojiDataset`:
``color`` (3, S, S) RGB in [0, 1] on white; ``sketch`` (1, S, S) in [0, 1] (1 = paper), the
true line art (or XDoG of the colour image with ``sketch="xdog"``); ``fills`` (3, S, S)
exact flat fills; ``regions`` (S, S) int64 ground-truth flat regions (0 on and next to
lines); ``name``; ``family`` (the hash split's key). Splits are 80/10/10 by a hash of the
family (:func:`tinct.data.openmoji.split_of`). Renders are cached on disk per source,
package version, render version, size (and colouring), one ``.npz`` per item. How each
source makes its line art: :mod:`tinct.data.twemoji`, :mod:`tinct.data.iconify`.

Credits (repeat them in the README and in every model card trained on a source):

- twemoji: Twemoji graphics by Twitter, Inc and other contributors, CC BY 4.0;
- iconpark: IconPark by ByteDance, Apache-2.0;
- freehand: Streamline Freehand Color icons by Streamline, CC BY 4.0.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

import numpy as np

from tinct.data import iconify, twemoji
from tinct.data.openmoji import SPLITS, cache_root, split_of

__all__ = ["SOURCES", "Source", "list_sources", "open_source", "prepare", "source_folder", "status"]

NPM_TIMEOUT_S = 300
MAX_MEMBER_BYTES = 64 * 2**20  # no file these packages need is near this: a bigger one is not the package
MARKER = "ready.json"


# ----------------------------------------------------------------------------- render cache


class RenderCache:
    """Renders of one source at one size and colouring, one ``.npz`` per item in ``folder``
    (the pattern of :class:`tinct.data.openmoji.RenderCache`: a torn file is rendered again)."""

    def __init__(self, folder: Path, render: Callable[[str], dict[str, np.ndarray]]):
        self.folder = folder
        self.render = render

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.npz"

    def get(self, name: str) -> dict[str, np.ndarray]:
        path = self.path(name)
        if path.exists():
            try:
                with np.load(path) as stored:
                    return {key: stored[key] for key in stored.files}
            except (OSError, ValueError, EOFError):  # a torn write: render again
                path.unlink(missing_ok=True)
        result = self.render(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(temporary, **result)
        os.replace(temporary, path)
        return result


# ----------------------------------------------------------------------------- datasets


class SourceDataset:
    """A PyTorch ``Dataset`` over one split of a prepared source, yielding dict samples
    (module docstring). Subclasses name their source and say how to list, group and render
    its items.

    root: the prepared folder (default: the one :func:`prepare` makes; a ValueError says how
    to prepare it when it is missing). cache_dir: where renders go (default the cache root).
    ``transform`` maps each sample dict to a new dict; ``limit`` keeps the first items.
    """

    source = ""  # the key in SOURCES
    render_version = 0  # the source module's RENDER_VERSION: part of the cache's folder name

    def __init__(
        self,
        split: str = "train",
        *,
        size: int = 128,
        sketch: str = "line",
        cache_dir: str | os.PathLike | None = None,
        transform=None,
        limit: int | None = None,
        root: str | os.PathLike | None = None,
    ):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if sketch not in ("line", "xdog"):
            raise ValueError(f"sketch must be 'line' or 'xdog', got {sketch!r}")
        if size < 8:
            raise ValueError(f"size must be at least 8 px, got {size}")
        self.root = Path(root) if root is not None else prepared_folder(self.source)
        self.size = size
        self.sketch = sketch
        self.transform = transform
        # a family has no skin-tone part left, so split_of hashes it as it is
        self.names = [name for name in self.list_names() if split_of(self.family_of(name)) == split][:limit]
        version = SOURCES[self.source].version
        folder = Path(cache_dir) if cache_dir is not None else cache_root()
        self.cache = RenderCache(folder / f"{self.source}-{version}-v{self.render_version}" / self.variant(),
                                 self.render_item)

    @property
    def source_name(self) -> str:
        """What a mix calls this dataset's samples (:class:`tinct.data.mixed.MixedDataset`)."""
        return self.source

    def list_names(self) -> list[str]:
        raise NotImplementedError

    def family_of(self, name: str) -> str:
        raise NotImplementedError

    def render_item(self, name: str) -> dict[str, np.ndarray]:
        """``color``, ``line``, ``fills``, ``alpha``, ``regions`` of one item at ``self.size``."""
        raise NotImplementedError

    def variant(self) -> str:
        """The render cache's folder for this size (and colouring)."""
        return str(self.size)

    def extra(self, name: str) -> dict:
        """Sample keys particular to the source."""
        return {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        from tinct.data.openmoji import cached_sample

        name = self.names[index]
        sample = {
            **cached_sample(self.cache.get(name), sketch=self.sketch),
            "name": name,
            "family": self.family_of(name),
            **self.extra(name),
        }
        return self.transform(sample) if self.transform is not None else sample


class TwemojiDataset(SourceDataset):
    """Twemoji (:mod:`tinct.data.twemoji`): flat-colour emoji; the line art is the boundaries
    of the drawn shapes, the colour image has none. Extra key: ``skin_tone`` (``""`` when none)."""

    source = "twemoji"
    render_version = twemoji.RENDER_VERSION

    @staticmethod
    def count(root: str | os.PathLike) -> int:
        return len(twemoji.list_names(root))

    def list_names(self) -> list[str]:
        return twemoji.list_names(self.root)

    def family_of(self, name: str) -> str:
        return twemoji.family_of(name)

    def render_item(self, name: str) -> dict[str, np.ndarray]:
        return twemoji.render(twemoji.read_svg(self.root, name), self.size)

    def extra(self, name: str) -> dict:
        return {"skin_tone": twemoji.skin_tone_of(name) or ""}


class IconifyDataset(SourceDataset):
    """An Iconify icon set (:mod:`tinct.data.iconify`). ``colors``: ``"random"`` (default:
    random palette colours per area, drawn from ``(name, seed)``) or ``"original"``."""

    render_version = iconify.RENDER_VERSION  # subclasses set render_icon: iconify.render_iconpark, ...

    def __init__(
        self,
        split: str = "train",
        *,
        size: int = 128,
        sketch: str = "line",
        cache_dir: str | os.PathLike | None = None,
        transform=None,
        limit: int | None = None,
        root: str | os.PathLike | None = None,
        seed: int = 0,
        colors: str = "random",
    ):
        if colors not in iconify.COLORINGS:
            raise ValueError(f"colors must be one of {iconify.COLORINGS}, got {colors!r}")
        self.seed = int(seed)
        self.colors = colors
        super().__init__(split, size=size, sketch=sketch, cache_dir=cache_dir, transform=transform, limit=limit,
                         root=root)
        self.icons = iconify.load_icons(self.root)

    @staticmethod
    def count(root: str | os.PathLike) -> int:
        return len(iconify.load_icons(root))

    def list_names(self) -> list[str]:
        return sorted(iconify.load_icons(self.root))

    def family_of(self, name: str) -> str:
        return iconify.family_of(name)

    def variant(self) -> str:
        return f"{self.size}-{self.colors}" + (f"-seed{self.seed}" if self.colors == "random" else "")

    def render_item(self, name: str) -> dict[str, np.ndarray]:
        return self.render_icon(self.icons[name], self.size, name=name, seed=self.seed, colors=self.colors)


class IconParkDataset(IconifyDataset):
    """IconPark: its outline-theme strokes as line art, random colours in its fill shapes."""

    source = "iconpark"
    render_icon = staticmethod(iconify.render_iconpark)


class FreehandDataset(IconifyDataset):
    """Streamline Freehand Color: every pen stroke as line art, random colours in the areas
    the strokes enclose."""

    source = "freehand"
    render_icon = staticmethod(iconify.render_freehand)


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Source:
    """A dataset fetched on demand: a pinned npm package, its licence and its dataset class.

    files: what to extract: ``(pattern, folder)`` pairs, a pattern matching a path inside the
    package (``*`` stays within one folder), the folder where such files go (flattened).
    """

    name: str
    package: str
    version: str
    licence: str
    credit: str
    url: str
    items: int
    dataset: type
    files: tuple[tuple[str, str], ...]

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def tarball_name(self) -> str:
        """The file ``npm pack`` writes: ``@scope/name`` 1.0 -> ``scope-name-1.0.tgz``."""
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    @property
    def tarball_url(self) -> str:
        return f"https://registry.npmjs.org/{self.package}/-/{self.package.rsplit('/', 1)[-1]}-{self.version}.tgz"

    @property
    def command(self) -> str:
        return f"tinct data prepare {self.name}"


_ICONIFY_FILES = (("icons.json", ""), ("info.json", ""), ("package.json", ""), ("README.md", ""), ("LICENSE*", ""))

SOURCES: dict[str, Source] = {
    "twemoji": Source(
        name="twemoji",
        package="@twemoji/svg",
        version="15.0.0",
        licence="CC BY 4.0",
        credit="Twemoji graphics by Twitter, Inc and other contributors (https://github.com/jdecked/twemoji), "
        "licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); npm package @twemoji/svg "
        "by Samuel Kopp (package licence file: MIT)",
        url="https://github.com/jdecked/twemoji",
        items=3720,
        dataset=TwemojiDataset,
        files=(("*.svg", "svg"), ("svg/*.svg", "svg"), ("package.json", ""), ("license*", ""), ("LICENSE*", ""),
               ("readme.md", "")),
    ),
    "iconpark": Source(
        name="iconpark",
        package="@iconify-json/icon-park",
        version="1.2.4",
        licence="Apache-2.0",
        credit="IconPark by ByteDance (https://github.com/bytedance/IconPark), licensed under the Apache License 2.0 "
        "(https://github.com/bytedance/IconPark/blob/master/LICENSE); via Iconify's @iconify-json/icon-park",
        url="https://github.com/bytedance/IconPark",
        items=2658,
        dataset=IconParkDataset,
        files=_ICONIFY_FILES,
    ),
    "freehand": Source(
        name="freehand",
        package="@iconify-json/streamline-freehand-color",
        version="1.2.2",
        licence="CC BY 4.0",
        credit="Freehand color icons by Streamline (https://github.com/webalys-hq/streamline-vectors), licensed "
        "under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); via Iconify's "
        "@iconify-json/streamline-freehand-color",
        url="https://github.com/webalys-hq/streamline-vectors",
        items=1000,
        dataset=FreehandDataset,
        files=_ICONIFY_FILES,
    ),
}


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; sources: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def source_folder(name: str) -> Path:
    """Where :func:`prepare` puts a source: ``CACHE/sources/NAME-VERSION`` (prepared or not)."""
    source = _source(name)
    return cache_root() / "sources" / f"{source.name}-{source.version}"


def _marker(folder: Path, source: Source) -> dict | None:
    """The folder's ``ready.json`` when it says this package and version, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or (marker.get("package"), marker.get("version")) != (source.package, source.version):
        return None
    return marker


def prepared_folder(name: str) -> Path:
    """The prepared folder of a source; a ValueError saying how to prepare it otherwise."""
    folder = source_folder(name)
    if _marker(folder, SOURCES[name]) is None:
        raise ValueError(f"source {name} is not prepared: run tinct data prepare {name}")
    return folder


# ----------------------------------------------------------------------------- preparing


def _npm_pack(source: Source, folder: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise ValueError(f"npm is not installed: install Node.js, or download {source.tarball_name} yourself "
                         f"({source.tarball_url}) and run tinct data prepare {source.name} --from FILE")
    command = f"npm pack {source.spec}"
    try:
        done = subprocess.run([npm, "pack", source.spec, "--loglevel=error"], cwd=folder, capture_output=True,
                              text=True, timeout=NPM_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ValueError(f"{command} took over {NPM_TIMEOUT_S} s: check the network, or download "
                         f"{source.tarball_url} and use --from FILE") from None
    except OSError as error:
        raise ValueError(f"{command} could not run: {error}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(("npm error", "npm ERR!")) and " code " not in line]
        reason = (errors or lines or [f"exit status {done.returncode}"])[0]
        raise ValueError(f"{command} failed: {reason}")
    tarballs = sorted(folder.glob("*.tgz"))
    if len(tarballs) != 1:
        raise ValueError(f"{command} left {len(tarballs)} tarballs, expected one")
    return tarballs[0]


def _is_unsafe(member_name: str) -> bool:
    """An absolute path, a ``..`` anywhere, or a drive (``C:``): never extracted."""
    path = PurePosixPath(member_name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (bool(path.parts) and ":" in path.parts[0])


def _destination(source: Source, inner: PurePosixPath) -> str | None:
    """The folder (relative) a package file goes to, or None when the source does not need it."""
    for pattern, folder in source.files:
        parts = PurePosixPath(pattern).parts
        if len(parts) == len(inner.parts) and all(fnmatch(a, b) for a, b in zip(inner.parts, parts)):
            return folder
    return None


def _extract(source: Source, tarball: Path, destination: Path) -> int:
    """Check ``tarball`` and extract what ``source`` needs into ``destination``; the item count."""
    import tarfile

    try:
        archive = tarfile.open(tarball, "r:*")  # noqa: SIM115 (closed by the with below; its errors are ours to word)
    except (tarfile.TarError, OSError) as error:
        raise ValueError(f"{tarball}: not a readable npm tarball ({error})") from None
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ValueError(f"{tarball}: not a readable npm tarball ({error})") from None
        unsafe = [member.name for member in members if _is_unsafe(member.name)]
        if unsafe:
            raise ValueError(f"{tarball}: refusing a tarball with unsafe member paths (absolute or '..'): {unsafe[0]!r}")
        manifest = next((m for m in members if m.isfile() and m.name.lstrip("./") == "package/package.json"), None)
        if manifest is None:
            raise ValueError(f"{tarball}: no package/package.json: not an npm package tarball")
        try:
            package = json.loads(archive.extractfile(manifest).read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"{tarball}: unreadable package/package.json ({error})") from None
        found = f"{package.get('name')}@{package.get('version')}" if isinstance(package, dict) else "?"
        if found != source.spec:
            raise ValueError(f"{tarball} is {found}, not {source.spec}: get it with npm pack {source.spec} "
                             f"or from {source.tarball_url}")
        destination.mkdir(parents=True)
        for member in members:
            inner = PurePosixPath(member.name.lstrip("./"))
            if not member.isfile() or len(inner.parts) < 2 or inner.parts[0] != "package":
                continue  # links, folders and anything outside package/ are never written
            folder = _destination(source, PurePosixPath(*inner.parts[1:]))
            if folder is None:
                continue
            if member.size > MAX_MEMBER_BYTES:
                raise ValueError(f"{tarball}: {member.name} is {member.size / 2**20:.0f} MiB, too big for {source.spec}")
            target = destination / folder / inner.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as stream, open(target, "wb") as out:
                shutil.copyfileobj(stream, out)
    try:
        items = source.dataset.count(destination)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{tarball}: the {source.name} files in it do not read ({error})") from None
    if items == 0:
        raise ValueError(f"{tarball}: no {source.name} items in it")
    return items


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0


def prepare(name: str, *, from_tarball: str | os.PathLike | None = None) -> Path:
    """Fetch and extract a source (module docstring); its folder. Does nothing when it is ready.

    from_tarball: a tarball of the pinned package version downloaded by the user (checked
    against its ``package.json``); otherwise ``npm pack PACKAGE@VERSION`` fetches it.
    Raises ValueError with one line saying what went wrong and what to do.
    """
    source = _source(name)
    folder = source_folder(name)
    if _marker(folder, source) is not None:
        return folder
    if from_tarball is not None and not Path(from_tarball).is_file():
        raise FileNotFoundError(f"no tarball at {from_tarball}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tempfile.TemporaryDirectory(prefix="tinct-npm-") as temporary:
            tarball = Path(from_tarball) if from_tarball is not None else _npm_pack(source, Path(temporary))
            items = _extract(source, tarball, staging)
            marker = {
                "name": source.name,
                "package": source.package,
                "version": source.version,
                "items": items,
                "licence": source.licence,
                "credit": source.credit,
                "from": "npm" if from_tarball is None else str(Path(from_tarball).name),
                "sha256": _sha256(tarball),
            }
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # an earlier, unfinished attempt
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


# ----------------------------------------------------------------------------- status and opening


def status(name: str) -> dict:
    """Where a source stands: ``name``, ``package``, ``version``, ``licence``, ``credit``,
    ``url``, ``items`` (counted when prepared), ``ready``, ``path``, ``bytes`` (the prepared
    folder on disk; 0 when not ready), ``renders_bytes`` (its cached renders) and ``command``
    (how to prepare it)."""
    source = _source(name)
    folder = source_folder(name)
    marker = _marker(folder, source)
    renders = cache_root().glob(f"{source.name}-{source.version}-v*")
    return {
        "name": source.name,
        "package": source.package,
        "version": source.version,
        "licence": source.licence,
        "credit": source.credit,
        "url": source.url,
        "items": int(marker["items"]) if marker is not None else source.items,
        "ready": marker is not None,
        "path": str(folder),
        "bytes": _folder_bytes(folder) if marker is not None else 0,
        "renders_bytes": sum(_folder_bytes(path) for path in renders),
        "command": source.command,
    }


def list_sources() -> list[dict]:
    """:func:`status` of every source, in registry order."""
    return [status(name) for name in SOURCES]


def open_source(name: str, split: str, *, size: int, sketch: str = "line", transform=None, limit: int | None = None):
    """The dataset of a prepared source's ``split`` (a ValueError when it is unknown or not
    prepared, saying how to prepare it)."""
    source = _source(name)
    prepared_folder(name)
    return source.dataset(split, size=size, sketch=sketch, transform=transform, limit=limit)
