"""rag: question answering over Chinese documents with cited passages.

    from rag import ask, build_index
    build_index(["seeds"], index="index")
    a = ask("起步区2024年固定资产投资目标是多少")
    print(a.answer, a.citations[0].source)
"""
from .chain import ask, get_engine, search, stream_ask
from .config import Settings
from .errors import BadQuestion, DocumentNotFound, IndexCorrupt, IndexMismatch, IndexMissing, LoaderError, RagError
from .models import Answer, Chunk, Citation, IndexStats
from .reader import DocumentView, read_document
from .store import build_index

__all__ = [
    "ask", "stream_ask", "search", "build_index", "get_engine", "read_document", "Answer", "Citation", "Chunk", "DocumentView",
    "IndexStats", "Settings", "RagError", "BadQuestion", "IndexMissing", "IndexCorrupt", "IndexMismatch", "LoaderError",
    "DocumentNotFound",
]
