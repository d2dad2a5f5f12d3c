"""The pipeline a tutorial would build: RecursiveCharacterTextSplitter 500/50 + FAISS + the same
embedding model, answering with its top chunk. Used as a baseline by `rag eval --baselines`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.embeddings import BaseEmbeddings
from rag.loaders import load_paths
from rag.models import Answer, Citation
from rag.vectorstore import VectorStore

ANSWER_LIMIT = 160


@dataclass
class NaivePipeline:
    texts: list[str]
    sources: list[str]
    store: VectorStore
    embeddings: BaseEmbeddings

    @classmethod
    def build(cls, paths: list[str], embeddings: BaseEmbeddings) -> "NaivePipeline":
        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        docs, _ = load_paths(paths)
        texts, sources = [], []
        for d in docs:
            for piece in splitter.split_text(d.text):
                texts.append(piece)
                sources.append(d.source)
        vecs = embeddings.embed_passages_array(texts) if texts else np.zeros((0, embeddings.dim), np.float32)
        return cls(texts, sources, VectorStore.build(vecs, ann_threshold=10**9), embeddings)

    def ask(self, question: str, k: int = 5) -> Answer:
        _, ids = self.store.search(self.embeddings.embed_query_array(question), k)
        cites = [Citation(n=r + 1, source=self.sources[i], title=self.sources[i], section="", text=self.texts[i])
                 for r, i in enumerate(int(x) for x in ids)]
        top = cites[0].text[:ANSWER_LIMIT] if cites else ""
        return Answer(question, top, bool(cites), cites)
