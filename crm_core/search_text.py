"""How customer names and search text are normalised for search: pure functions, no SQL.

One definition serves the index (crm_core/search_index.py), the plain scan it is tested against
and the benchmark's baseline:

- `fold(text)`: NFKC, case folding, traditional -> simplified per character (OpenCC's character
  table, so 張偉 and 张伟 fold alike and a substring of a name folds to a substring of the
  folded name), Latin accents dropped (José -> jose), whitespace runs -> one space.
- `pinyin_keys(name, person)`: the name's CJK characters read as toneless pinyin (pypinyin; the
  surname of a person read as a surname: 曾 zeng, 单 shan, 解 xie, 区 ou...), as keys that start
  at a syllable boundary: full pinyin (zhangwei, wei) and initials (zw, w). A query in pinyin
  matches when it is a prefix of a key.
- `parse_query(q)`: the folded query and its pinyin form (spaces, apostrophes, tone marks and
  tone digits dropped: "Zhāng wěi", "zhang1 wei3" -> zhangwei).
- `match_class(...)`: the rank of a name for a query: exact name, prefix, substring, pinyin.
- `name_terms(...)`: what the index stores for a name: every character and pair of characters of
  the folded name, every pinyin key prefix up to PINYIN_PREFIX_MAX letters and longer keys whole,
  each with its best class, so one equality lookup answers a 1-2 character or short pinyin query
  in rank order.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import opencc
from pypinyin import Style, lazy_pinyin

# Ranking classes, best first (CustomerRepo.search orders by class, then tier, then id).
EXACT, PREFIX, SUBSTRING, PINYIN, EMPLOYER, EMAIL, PHONE = range(7)
# Pinyin key prefixes up to this length are index terms: the longest syllables (zhuang, shuang)
# fit, so any query of one syllable or less is one lookup; longer keys are stored whole.
PINYIN_PREFIX_MAX = 6
# Keys start at the first PINYIN_STARTS syllable boundaries of the first PINYIN_SYLLABLES CJK
# characters: all of a personal name, the head of a long company name.
PINYIN_SYLLABLES = 8
PINYIN_STARTS = 4

# Surnames whose surname reading differs from the character's everyday one (pypinyin reads
# 曾 as ceng, 单 as dan, 解 as jie...). Compound surnames are matched first.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "曾": ("zeng",), "单": ("shan",), "解": ("xie",), "区": ("ou",), "仇": ("qiu",),
    "查": ("zha",), "朴": ("piao",), "覃": ("qin",), "乐": ("yue",), "盖": ("ge",),
    "种": ("chong",), "繁": ("po",), "员": ("yun",), "召": ("shao",), "缪": ("miao",),
    "翟": ("zhai",), "折": ("she",), "秘": ("bi",), "纪": ("ji",), "燕": ("yan",),
    "沈": ("shen",), "柏": ("bai",), "贾": ("jia",), "薄": ("bo",), "葛": ("ge",),
    "褚": ("chu",), "隗": ("wei",), "冼": ("xian",), "宁": ("ning",), "阚": ("kan",),
    "句": ("gou",), "尉": ("yu",), "长": ("chang",), "任": ("ren",), "华": ("hua",),
    "万": ("wan",), "曲": ("qu",), "藏": ("zang",), "谌": ("chen",), "莘": ("shen",),
    "尉迟": ("yu", "chi"), "万俟": ("mo", "qi"), "长孙": ("zhang", "sun"),
    "单于": ("chan", "yu"), "澹台": ("tan", "tai"), "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"), "诸葛": ("zhu", "ge"), "上官": ("shang", "guan"),
    "东方": ("dong", "fang"), "皇甫": ("huang", "fu"), "令狐": ("ling", "hu"),
    "公孙": ("gong", "sun"), "夏侯": ("xia", "hou"), "慕容": ("mu", "rong"),
    "司徒": ("si", "tu"), "宇文": ("yu", "wen"), "呼延": ("hu", "yan"),
}

_PINYIN_CHARS = re.compile(r"[a-z'\s]*")
_TONE_VOWELS = {
    **dict.fromkeys("āáǎà", "a"), **dict.fromkeys("ēéěè", "e"), **dict.fromkeys("īíǐì", "i"),
    **dict.fromkeys("ōóǒò", "o"), **dict.fromkeys("ūúǔù", "u"), **dict.fromkeys("üǖǘǚǜ", "v"),
    "ń": "n", "ň": "n", "ǹ": "n", "ḿ": "m",
}


def is_cjk(ch: str) -> bool:
    """A CJK unified ideograph (basic block, extension A, compatibility ideographs, ext. B+)."""
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF
            or 0x20000 <= cp <= 0x3134F)


@functools.cache
def _fold_table() -> dict[int, str]:
    """Per-character: traditional -> simplified (OpenCC's t2s, one character to one), and a
    Latin letter with accents -> the bare letter."""
    t2s = opencc.OpenCC("t2s.json")
    table: dict[int, str] = {}
    for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)):
        block = "".join(chr(cp) for cp in range(lo, hi + 1))
        out = t2s.convert(block)
        # The character dictionary maps one to one; convert per character where a phrase
        # rule changed the length, so the table stays a character map.
        pairs = zip(block, out, strict=True) if len(out) == len(block) else (
            (ch, t2s.convert(ch)) for ch in block)
        for src, dst in pairs:
            if src != dst and len(dst) == 1:
                table[ord(src)] = dst
    for cp in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(cp))[0]
        if base != chr(cp) and base.isascii():
            table[cp] = base.casefold()
    return table


def fold(text: str) -> str:
    """The form names and queries are compared in (see the module docstring)."""
    s = unicodedata.normalize("NFKC", text).casefold().translate(_fold_table())
    return " ".join(s.split())


@functools.lru_cache(maxsize=65536)
def _char_reading(ch: str) -> str:
    if not is_cjk(ch):
        return ""
    readings = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
    return readings[0] if readings else ""


@functools.lru_cache(maxsize=65536)
def _phrase_readings(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text, style=Style.NORMAL))


def syllables(folded: str, person: bool) -> tuple[str, ...]:
    """Toneless pinyin of the CJK characters of a folded name, in order (at most
    PINYIN_SYLLABLES). A person's leading surname gets its surname reading."""
    chars = "".join(ch for ch in folded if is_cjk(ch))[:PINYIN_SYLLABLES]
    if not chars:
        return ()
    head: tuple[str, ...] = ()
    if person and folded[:1] == chars[:1]:
        for n in (2, 1):
            reading = SURNAME_READINGS.get(chars[:n])
            if reading is not None:
                head, chars = reading, chars[n:]
                break
    if person:
        # Given names are read per character: phrase rules are for words, not names.
        rest = tuple(_char_reading(ch) for ch in chars)
    else:
        rest = _phrase_readings(chars) if chars else ()
    return head + tuple(r.replace("ü", "v") for r in rest if r)


def pinyin_keys(folded: str, person: bool) -> tuple[str, ...]:
    """Full-pinyin and initials keys starting at each of the first PINYIN_STARTS syllables."""
    syl = syllables(folded, person)
    keys: list[str] = []
    for i in range(min(len(syl), PINYIN_STARTS)):
        for key in ("".join(syl[i:]), "".join(s[0] for s in syl[i:])):
            if key not in keys:
                keys.append(key)
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class Query:
    text: str    # folded query
    pinyin: str  # the query read as pinyin, or "" when it cannot be pinyin

    @property
    def short(self) -> bool:
        """One or two characters: answered by one lookup of the term index."""
        return len(self.text) <= 2


def pinyin_of_query(q: str) -> str:
    """`q` as toneless pinyin letters, or "" when it holds anything else. Tone digits count
    only right after a letter ("zhang1wei3"); ü is written v, as pypinyin and IMEs do."""
    s = unicodedata.normalize("NFKC", q).casefold()
    s = "".join(_TONE_VOWELS.get(ch, ch) for ch in s)
    s = re.sub(r"(?<=[a-z])[1-5]", "", s)
    if not _PINYIN_CHARS.fullmatch(s):
        return ""
    return re.sub(r"[^a-z]", "", s)


def parse_query(q: str) -> Query:
    text = fold(q)
    if len(text) <= 2:
        # A one- or two-character query is one term; it is pinyin only if it is plain letters.
        py = text if text.isascii() and text.isalpha() else ""
    else:
        py = pinyin_of_query(q)
    return Query(text, py)


def match_class(folded: str, keys: tuple[str, ...] | str, query: Query) -> int | None:
    """The best class at which a name (folded, with its pinyin keys) matches the query, or None.
    This is the definition the index must agree with."""
    t = query.text
    if t and folded == t:
        return EXACT
    if t and folded.startswith(t):
        return PREFIX
    if t and t in folded:
        return SUBSTRING
    key_list = keys.split() if isinstance(keys, str) else keys
    if query.pinyin and any(k.startswith(query.pinyin) for k in key_list):
        return PINYIN
    return None


def name_terms(folded: str, keys: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Index terms of a name: term -> (best class, 1 if the term is a pinyin key prefix)."""
    out: dict[str, tuple[int, int]] = {}
    # Left to right, so a term's first occurrence is its best class.
    for i, ch in enumerate(folded):
        if ch == " ":
            continue
        if ch not in out:
            out[ch] = (EXACT if folded == ch else PREFIX if i == 0 else SUBSTRING, 0)
        pair = folded[i:i + 2]
        if len(pair) == 2 and pair[1] != " " and pair not in out:
            out[pair] = (EXACT if folded == pair else PREFIX if i == 0 else SUBSTRING, 0)
    for key in keys:
        terms = [key[:n] for n in range(1, min(len(key), PINYIN_PREFIX_MAX) + 1)]
        if len(key) > PINYIN_PREFIX_MAX:
            terms.append(key)
        for term in terms:
            old = out.get(term)
            # A name that also holds the term as text keeps that (better) class.
            out[term] = (PINYIN, 1) if old is None else (old[0], 1)
    return out
