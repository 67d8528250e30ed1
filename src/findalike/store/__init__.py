"""All that persists: Milvus (``milvus``: the only module that talks to it), the HNSW
graphs beside Milvus Lite (``ann``), Milvus Lite as a local server (``liteserver``) and
the move from Lite 3.2 (``lite3``), stored originals (``media``), and the SQLite files
the workers share (``sqlitedb``).

``findalike.store`` names what ``findalike.store.milvus`` offers (and the schema types it
speaks), as the module of that name did before the store became a folder.
"""

from findalike.config import is_embedded_uri
from findalike.schema import (
    MAX_RESULT_ROWS,
    FieldKind,
    FieldSpec,
    Hit,
    Language,
    in_filter,
    quote,
    similarity,
)
from findalike.store.milvus import (
    BM25_SUFFIX,
    COUNT_CACHE_S,
    CREATE_LOCK_TIMEOUT_S,
    EPOCH_FILE,
    FIELD_KINDS,
    GRAPHS_DIR,
    ID_MAX_LENGTH,
    LANGUAGES,
    LITE_25_VERSION,
    RRF_K,
    SKELETON_FIELDS,
    WRITES_DIR,
    CollectionSpec,
    StoreError,
    VectorStore,
)

__all__ = [
    "BM25_SUFFIX",
    "COUNT_CACHE_S",
    "CREATE_LOCK_TIMEOUT_S",
    "EPOCH_FILE",
    "FIELD_KINDS",
    "GRAPHS_DIR",
    "ID_MAX_LENGTH",
    "LANGUAGES",
    "LITE_25_VERSION",
    "MAX_RESULT_ROWS",
    "RRF_K",
    "SKELETON_FIELDS",
    "WRITES_DIR",
    "CollectionSpec",
    "FieldKind",
    "FieldSpec",
    "Hit",
    "Language",
    "StoreError",
    "VectorStore",
    "in_filter",
    "is_embedded_uri",
    "quote",
    "similarity",
]
