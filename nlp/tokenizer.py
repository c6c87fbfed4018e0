"""One jieba tokenizer per pack, loaded with the pack's vocabulary, synonyms and stop words.

jieba is imported and its dictionary loaded on first use only. The base dictionary is
loaded once per process (from jieba's marshal cache) and copied into each pack's tokenizer.
"""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import jieba

_LOCK = threading.RLock()
_BASE: Any = None  # the base jieba.Tokenizer, loaded once

# Words that say nothing about the category in any pack.
_STOP_TEXT = (
    "的 了 是 在 我 你 他 她 它 我们 你们 他们 她们 这 那 这个 那个 就 都 也 还 又 "
    "和 与 及 或 吗 呢 吧 啊 呀 哦 嗯 么 着 过 把 被 给 对 让 从 向 到 为 为了 因为 "
    "所以 但是 但 而且 然后 如果 一个 一下 一直 已经 现在 今天 昨天 明天 时候 什么 "
    "怎么 怎么办 为什么 没有 不 没 有 要 会 能 可以 请 希望 麻烦 谢谢 领导 您好 你好 "
    "问题 情况 反映 投诉 一些 这些 那些 这样 那样 非常 特别 很 太 好 说 去 来 上 下 "
    "里 中 后 前 等 之 其 自己 人 个 再 多 次 月 日 号 年 天 啊啊 请问 相关 部门 进行 "
    "已 能否 是否 目前 存在 导致 造成 出现 如何 尽快 及时 处理 解决 关于 由于 通过 "
    "以及 并 且 才 "
)
COMMON_STOPWORDS = frozenset(_STOP_TEXT.split())


def cache_dir() -> Path | None:
    """Where jieba's dictionary cache lives: $TOUSU_CACHE_DIR or ~/.cache/tousu."""
    env = os.environ.get("TOUSU_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base if env else base / "tousu"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _base_tokenizer() -> jieba.Tokenizer:
    global _BASE
    with _LOCK:
        if _BASE is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            logging.getLogger("jieba").setLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            where = cache_dir()
            if where is not None:
                tk.tmp_dir = str(where)
            tk.initialize()
            _BASE = tk
        return _BASE


def normalize(text: str) -> str:
    """Full-width to half-width, lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token)


class PackTokenizer:
    """Segments text with the pack vocabulary as words; maps synonyms; drops stop words."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        synonyms: Mapping[str, str] | None = None,
        stopwords: Iterable[str] = (),
    ) -> None:
        self.synonyms = {normalize(k): normalize(v) for k, v in (synonyms or {}).items()}
        words = {normalize(w).strip() for w in vocabulary} | set(self.synonyms)
        self.vocabulary = frozenset(w for w in words if w)
        self.stopwords = COMMON_STOPWORDS | {normalize(w) for w in stopwords}
        self._jieba: Any = None
        self._max_word = max((len(w) for w in self.vocabulary), default=1)

    def _tk(self) -> jieba.Tokenizer:
        if self._jieba is None:
            with _LOCK:
                if self._jieba is None:
                    self._jieba = self._build()
        return self._jieba

    def _build(self) -> jieba.Tokenizer:
        import jieba

        base = _base_tokenizer()
        tk = jieba.Tokenizer()
        tk.tmp_dir = base.tmp_dir
        tk.FREQ = dict(base.FREQ)
        tk.total = base.total
        tk.initialized = True
        for word in sorted(self.vocabulary, key=len):
            # A frequency well above what keeps the word whole, so that it also wins
            # against neighbouring words in context.
            freq = max(tk.suggest_freq(word, False) * 20, 2000)
            tk.add_word(word, freq)
        return tk

    def warm_up(self) -> None:
        self._tk()

    def cut(self, text: str) -> list[str]:
        """Raw jieba tokens of the normalized text (no filtering)."""
        return list(self._tk().cut(normalize(text), HMM=False))

    def tokens(self, text: str) -> list[str]:
        """Content tokens: synonyms mapped, stop words and punctuation dropped."""
        out: list[str] = []
        syn = self.synonyms
        stop = self.stopwords
        for tok in self._tk().cut(normalize(text), HMM=False):
            tok = syn.get(tok, tok)
            if tok in stop or not _is_word(tok) or tok.isspace():
                continue
            out.append(tok)
        return out

    def terms(self, text: str, vocabulary: frozenset[str] | None = None) -> list[str]:
        """Tokens plus vocabulary words hidden inside a token or spread over two tokens.

        "上课玩手机" also yields "玩手机"; "不 干净" yields "不干净" when it is a keyword.
        """
        vocab = self.vocabulary if vocabulary is None else vocabulary
        raw = [t for t in self._tk().cut(normalize(text), HMM=False) if not t.isspace()]
        syn = self.synonyms
        out: list[str] = []
        n = len(raw)
        for i, tok in enumerate(raw):
            canon = syn.get(tok, tok)
            if canon not in self.stopwords and _is_word(canon):
                out.append(canon)
            if len(tok) >= 2 and tok not in vocab:
                for size in range(1, min(len(tok), self._max_word + 1)):
                    for start in range(0, len(tok) - size + 1):
                        sub = tok[start : start + size]
                        if sub in vocab:
                            out.append(syn.get(sub, sub))
            if i + 1 < n:
                joined = tok + raw[i + 1]
                if joined in vocab:
                    out.append(syn.get(joined, joined))
        return out
