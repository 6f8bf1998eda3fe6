"""Acronyms and their long forms, learned from the papers' own definitions.

Papers define their acronyms ("large language models (LLMs)", "Human-Computer Interaction
(HCI)") and then use them alone, while readers type either form. A pool's definitions
give a table acronym -> long form; each paper's text is then completed with the other form
of every acronym or long form it uses, so the topic 'artificial intelligence' matches a
paper that only says "AI", and 'LLM agents' one that says "large language model agents".
Only topic matching (BM25 and the words a topic must find) reads the completed text: the
paper-to-paper similarity compares what the papers say (completing it there made papers
more alike and lost liked-paper nDCG on the tuning days; docs/ranking.md).

The definition finder is a simplified Schwartz & Hearst (2003): the words just before a
parenthesised acronym whose initials are the acronym's capital letters in order, with
short function words ("of", "to", ...) allowed in between ("mixture of experts (MoE)",
"text-to-image (T2I)").
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

# "(LLMs)", "(CoT)", "(T2I)", "(FDHead)": at least two capitals, plural s apart.
_DEFINED = re.compile(r"\(([A-Z][A-Za-z0-9]*?[A-Z][A-Za-z0-9]*?)(s?)\)")
_SPLIT = re.compile(r"[\s\-/]+")
_EDGE = re.compile(r"^\W+|\W+$")
_FUNCTION_WORDS = frozenset(
    ["of", "and", "the", "for", "in", "to", "a", "an", "on", "with", "by", "via", "from"]
)
_MAX_LETTERS = 8
_LOOK_BACK = 150  # characters before the parenthesis that may hold the long form


def definitions_in(text: str) -> dict[str, str]:
    """The acronyms ``text`` defines, each with its long form (lower case, singular when the
    acronym was plural: "(LLMs)" -> 'large language model')."""
    found: dict[str, str] = {}
    for match in _DEFINED.finditer(text):
        acronym, plural = match.groups()
        letters = [c.lower() for c in acronym if c.isupper()]
        if not 2 <= len(letters) <= _MAX_LETTERS:
            continue
        before = _SPLIT.split(text[max(0, match.start() - _LOOK_BACK) : match.start()].strip())
        words: list[str] = []
        for raw in reversed(before):
            word = _EDGE.sub("", raw)
            if not word:
                break
            if word.lower() in _FUNCTION_WORDS and words:
                words.append(word)  # never an initial: "text-to-image (T2I)", not "to image"
            elif word[0].lower() == letters[-1]:
                letters.pop()
                words.append(word)
                if not letters:
                    break
            else:
                break
        if letters or len(words) < 2:
            continue
        long_form = " ".join(reversed(words)).lower()
        if plural and long_form.endswith("s"):
            long_form = long_form[:-1]
        found.setdefault(acronym, long_form)
    return found


# Candidates for an acronym in use: a word with two capitals ("LLMs", "CoT", "T2I").
_CAPITALISED = re.compile(r"(?<![\w-])[A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?![\w-])")
_CLAUSE = re.compile(r"[^\w\s\-/]+")  # punctuation that ends a phrase


def _same_word(word: str, form: str) -> bool:
    """``word`` is ``form``, or its plural or singular ("transformer", "transformers")."""
    return word == form or word == form + "s" or (form.endswith("s") and word == form[:-1])


class Acronyms:
    """The acronym table of one pool and the completion of its papers' texts."""

    def __init__(self, table: dict[str, str]):
        self.table = table  # acronym -> long form
        self._by_first: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for acronym, long_form in table.items():
            words = tuple(long_form.split())
            self._by_first[words[0]].append((words, acronym))
        for forms in self._by_first.values():
            forms.sort(key=lambda form: -len(form[0]))  # the longest long form first

    @classmethod
    def learn(cls, texts: Iterable[str]) -> Acronyms:
        """The table of a pool: each acronym with the long form its papers give it most."""
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for text in texts:
            for acronym, long_form in definitions_in(text).items():
                votes[acronym][long_form] += 1
        return cls({a: c.most_common(1)[0][0] for a, c in sorted(votes.items())})

    def completion(self, text: str) -> str:
        """The other form of every acronym and long form ``text`` uses, once per use (empty
        when there is none): what the paper says in the words it did not use."""
        return " . ".join(other for _, other in self.uses(text))

    def uses(self, text: str) -> list[tuple[str, str]]:
        """Each acronym or long form ``text`` uses, as it says it, with its other form:
        ("AI", "artificial intelligence"), ("large language models", "LLM")."""
        if not self.table:
            return []
        own = definitions_in(text)  # a paper's own definition wins over the pool's
        found = []
        for word in _CAPITALISED.findall(text):
            acronym = word if word in self.table else word[:-1] if word[-1] == "s" else ""
            if acronym in self.table:
                found.append((word, own.get(acronym) or self.table[acronym]))
        return found + self._acronyms_of_long_forms(text)

    def _acronyms_of_long_forms(self, text: str) -> list[tuple[str, str]]:
        """Each long form in ``text`` (any case, spaces or hyphens between its words, the
        last one plural or singular), the longest first and without overlaps, with its
        acronym."""
        found = []
        for clause in _CLAUSE.split(text.lower()):
            words = [w for w in _SPLIT.split(clause) if w]
            i = 0
            while i < len(words):
                step = 1
                for form, acronym in self._by_first.get(words[i], ()):
                    n = len(form)
                    last = words[i + n - 1] if i + n <= len(words) else ""
                    if _same_word(last, form[-1]) and tuple(words[i : i + n - 1]) == form[:-1]:
                        found.append((" ".join(words[i : i + n]), acronym))
                        step = n
                        break
                i += step
        return found
