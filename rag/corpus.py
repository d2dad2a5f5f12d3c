"""The knowledge-base folder: what may be uploaded into it (name and size checks), what it holds, and
deleting from it. The chat page and the API both manage the corpus folder through these."""
from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

from .chain import get_engine
from .config import Settings
from .errors import BadUpload, NotManaged
from .loaders import SUFFIXES, iter_files
from .models import IndexStats
from .store import Progress, build_index, read_manifest

UPLOAD_SUFFIXES = tuple(sorted(SUFFIXES))  # whatever the loaders read
MAX_UPLOAD_MB = 20


def safe_name(name: str) -> str:
    """The name an uploaded file is stored under in the corpus folder.

    Raises BadUpload with a message for the user when the name could leave the folder (a path
    separator or '..'), is hidden, has control characters, or is not a supported type."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name:
        raise BadUpload("文件名为空，已拒绝")
    if "/" in name or "\\" in name or ".." in name:
        raise BadUpload(f"文件名“{name}”含有路径分隔符或“..”，已拒绝；请改名后再上传")
    if name.startswith(".") or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise BadUpload(f"文件名“{name}”以“.”开头或含有控制字符，已拒绝；请改名后再上传")
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise BadUpload(f"不支持“{name}”的文件类型：请上传 {'、'.join(UPLOAD_SUFFIXES)} 文件")
    return name


def save_upload(path: str, corpus: str, name: str | None = None) -> str:
    """Copy an uploaded file (a temporary path) into the corpus folder; return the stored name.

    `name` is the original file name (default: the temp file's basename, which Gradio keeps).
    Raises BadUpload with a message for the user when the name or the size is refused."""
    target = safe_name(name if name is not None else os.path.basename(path))
    size = os.path.getsize(path)
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise BadUpload(f"文件“{target}”有 {size / 1024 / 1024:.1f} MB，超过 {MAX_UPLOAD_MB} MB 的上限，未保存")
    Path(corpus).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, Path(corpus) / target)
    return target


def corpus_files(corpus: str) -> list[str]:
    """Files in the corpus folder by source name (as the index names them), bad ones included."""
    if not Path(corpus).is_dir():
        return []
    return [source for _, source in iter_files([corpus])]


def delete_file(source: str, corpus: str) -> None:
    """Remove a file from the corpus folder. Raises BadUpload when it is not a file in that folder."""
    root = Path(corpus).resolve()
    target = (root / source).resolve()
    if source not in corpus_files(corpus) or root not in target.parents or not target.is_file():
        raise BadUpload(f"知识库文件夹中没有文件“{source}”")
    target.unlink()


def managed(index: str, corpus: str) -> list[str]:
    """What a re-index of the knowledge base rebuilds: the corpus folder. Raises NotManaged when the index was
    built from other folders (an index of someone's own files is never silently replaced by the corpus)."""
    manifest = read_manifest(index)
    if manifest is None:
        return [corpus]
    paths = manifest.get("paths") or []
    if [Path(p).resolve() for p in paths] != [Path(corpus).resolve()]:
        raise NotManaged(f"这个索引来自 {paths}，不是知识库文件夹 `{corpus}`；"
                         f"请用 `--corpus` 指定该文件夹，或在命令行用 `rag index` 重新索引。")
    return paths


def reindex(index: str, corpus: str, settings: Settings, progress: Progress | None = None) -> IndexStats:
    """Rebuild the index from the corpus folder with the index's own model (never switched silently) and load
    it, so the next question does not wait. Raises NotManaged when the index holds other folders."""
    paths = managed(index, corpus)
    s = settings.replace(embed_model=(read_manifest(index) or {}).get("embed_model"))
    stats = build_index(paths, index=index, settings=s, progress=progress)
    get_engine(index, settings)
    return stats


def documents(index: str) -> list[dict]:
    """The indexed documents: source, title, pages (None without pages), chunks, when indexed."""
    docs = (read_manifest(index) or {}).get("documents", {})
    return [{"source": src, "title": d.get("title", src), "pages": d.get("pages"), "chunks": d.get("chunks", 0),
             "indexed_at": d.get("indexed_at", "")} for src, d in sorted(docs.items())]
