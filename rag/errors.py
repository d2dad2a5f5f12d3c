"""Typed errors. Library code raises these; only the CLI and UI turn them into messages."""


class RagError(Exception):
    """Base class for every error this package raises on purpose."""


class BadQuestion(RagError, ValueError):
    """The question is empty, too long or otherwise unusable."""


class LoaderError(RagError):
    """A file could not be read as a document (unsupported, binary, empty, corrupt)."""


class IndexMissing(RagError):
    """No index exists at the given directory."""


class IndexCorrupt(RagError):
    """The index files are unreadable, tampered with or inconsistent."""


class IndexMismatch(RagError):
    """The index was built with another embedding model or chunker than the one asked for."""


class IndexUnavailable(RagError):
    """The index's server (Milvus) cannot be reached, its client is not installed, or a Milvus Lite file is open
    in another process."""


class EmbeddingError(RagError):
    """The embedding model could not be loaded or failed."""


class LLMError(RagError):
    """The optional LLM endpoint failed or timed out."""


class DocumentNotFound(RagError, KeyError):
    """The index holds no document by that name."""


class BadUpload(RagError, ValueError):
    """A file refused for the knowledge base: its name could leave the folder, its type or size is refused,
    or it is not in the folder."""


class NotManaged(RagError):
    """The index was built from other folders than the knowledge-base folder, so the page or API will not
    rebuild it from that folder."""
