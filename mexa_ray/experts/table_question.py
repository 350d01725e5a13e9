"""Reading a question against a table: the columns it names, the cells and numbers it names
(conditions on rows), the comparisons it makes and what it asks to compute.

Words are compared through the project's one normaliser (`mexa_ray.experts.text_utils.terms`), so
"body mass" meets the column `body_mass_g`, "largest" means "max" and "average" means "mean", as
the evidence ranking reads them too.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from mexa_ray.experts.text_utils import (
    COMPARISON_SUFFIXES,
    COMPARISON_WORDS,
    STOPWORDS,
    comparisons,
    term,
    term_spans,
    terms,
)

#: terms that name a statistic: in a column name ("mean radius") they count half, since a
#: question says them to ask for the statistic
STAT_TERMS = frozenset(
    term(w)
    for w in "mean max min sum median std frequent count number total average percent".split()
)
#: what a question asks to compute, by the terms that ask it (ASKING_TERMS below: all of them)
ASKS = {
    "count": {term(w) for w in ("many", "count", "number")},
    "frequent": {term("frequent")},
    "mean": {term("mean")},
    "sum": {term("sum")},
    "median": {term("median")},
    "std": {term("std")},
    "max": {term("max")},
    "min": {term("min")},
    "distinct": {term(w) for w in ("distinct", "different", "unique")},
    "percent": {term(w) for w in ("percent", "percentage", "proportion", "share", "fraction")},
}
#: terms a question asks with, not names a cell by: "many" in "how many", "more than"
ASKING_TERMS = frozenset(
    set().union(*ASKS.values())
    | STAT_TERMS
    | {term(w) for p in [*COMPARISON_WORDS, *COMPARISON_SUFFIXES] for w in re.findall("[a-z]+", p)}
    | {term(w) for w in "how much many row table column value record entry".split()}
)
#: words that name a statistic per group rather than rank rows ("the maximum", not "highest")
AGGREGATE_WORDS = {"maximum": "max", "max": "max", "minimum": "min", "min": "min", "peak": "max"}
#: words that ask how many rows rather than how large a value ("the most penguins")
QUANTITY_WORDS = frozenset("most least fewest fewer more less".split())
#: superlatives that name the column they rank by ("the oldest": the highest age)
SUPERLATIVES = {
    "oldest": ("max", ("age",)),
    "youngest": ("min", ("age",)),
    "heaviest": ("max", ("weight", "mass")),
    "lightest": ("min", ("weight", "mass")),
    "tallest": ("max", ("height",)),
    "shortest": ("min", ("length", "height", "duration")),
    "longest": ("max", ("length", "duration")),
    "earliest": ("min", ("date", "year", "time")),
    "latest": ("max", ("date", "year", "time")),
    "cheapest": ("min", ("price", "cost")),
    "fastest": ("max", ("speed",)),
    "slowest": ("min", ("speed",)),
    "widest": ("max", ("width",)),
}
#: terms of the column names that identify rows ("name", "id", "date", "year" ...)
KEY_NAME_TERMS = frozenset(
    term(w) for w in "name id identifier key code title date year time day month label".split()
)
#: the columns a comparison's word measures ("older than 65": an age), best first
IMPLIED_COLUMNS = {
    **dict.fromkeys(("older", "younger"), ("age",)),
    **dict.fromkeys(("taller",), ("height",)),
    **dict.fromkeys(("heavier", "lighter"), ("weight", "mass")),
    **dict.fromkeys(("longer", "shorter"), ("length", "duration", "height")),
    **dict.fromkeys(("wider", "narrower"), ("width",)),
    **dict.fromkeys(("later", "earlier", "after", "before"), ("date", "year", "time")),
}
#: the largest number of distinct values a column may have to be split into groups
MAX_GROUPS = 50
_UNIT = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_DATE = re.compile(
    r"\b\d{4}[-/]\d{1,2}[-/]\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}-[a-z]{3}-\d{2,4}\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?"
    r"\s+\d{4}\b|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
    r"|nov|dec)[a-z]*\.?,?\s+\d{4}\b",
    re.IGNORECASE,
)
#: a cell that is a date written as text
_DATE_CELL = (
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T][\d:.]+)?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{1,2}[- ][A-Za-z]{3,9}\.?[- ]\d{2,4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}"
)
#: how tables write dates as text (tried in turn on a column's first cells)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y-%m-%d %H:%M:%S",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%y",
    "%d.%m.%Y",
)
_NUMBER = re.compile(r"(?<![\w./])(?<!\d-)-?\d+(?:,\d{3})*(?:\.\d+)?(?![\w]|[/-]\d|\.\d)")


def display(name: str) -> str:
    """A column's name as report lines write it: words, as a question would say them."""
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip()


def name_terms(name: str) -> list[str | float]:
    """The terms of a column name that a question must say to name it: units in parentheses,
    single letters and unit abbreviations ("g", "mm") left out."""
    plain = _CAMEL.sub(" ", _UNIT.sub(" ", name)).replace("_", " ")
    # a name of stop words alone ("value", "year of"): its words are its terms
    found = terms(plain) or terms(plain, frozenset())
    core = [t for t in found if isinstance(t, float) or len(t) > 2 or t in KEY_NAME_TERMS]
    return list(dict.fromkeys(core or found))


def fmt(value) -> str:
    """A value as a report line prints it: whole numbers whole, others to 6 significant
    digits (enough for an option's number to meet it), never in scientific notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isinf(x):
            return str(x)
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        if abs(x) >= 1e5:
            return str(round(x))
        text = f"{x:.6g}"
        if "e" in text:
            text = f"{x:.12f}".rstrip("0").rstrip(".")
        return text
    return str(value)


def quoted(value) -> str:
    """A cell as a statement names it: text in quotes, numbers and dates bare."""
    if isinstance(value, str):
        return f"'{value}'"
    return fmt(value)


@dataclass
class Condition:
    """A condition on rows that the question states: a cell it names or a comparison."""

    column: str
    op: str  # "==", "in", ">", ">=", "<", "<=", "between"
    values: tuple
    #: how the question words the comparison ("more than") or the date it names
    phrase: str = ""
    #: compares the year of a date column ("in 2008", "after 2010")
    by_year: bool = False
    #: compares the day of a date column (`values` are Timestamps)
    as_date: bool = False
    #: where the question states it (a character offset), to read "and" / "or" between them
    at: int = -1

    def mask(self, q: TableQuestion) -> pd.Series:
        col = q.df[self.column]
        if self.by_year or self.as_date:
            col = q.stamps[self.column]
            col = col.dt.year if self.by_year else col.dt.normalize()
        a = self.values[0]
        if self.op == "==":
            return col == a
        if self.op == "in":
            return col.isin(list(self.values))
        if self.op == "between":
            return col.between(a, self.values[1])
        return {">": col.gt, ">=": col.ge, "<": col.lt, "<=": col.le}[self.op](a)

    def text(self) -> str:
        name = display(self.column) + (" year" if self.by_year else "")
        if self.op == "==":
            return f"{name} is {self.phrase or quoted(self.values[0])}"
        if self.op == "in":
            return f"{name} is " + " or ".join(quoted(v) for v in self.values)
        if self.op == "between":
            return f"{name} between {fmt(self.values[0])} and {fmt(self.values[1])}"
        return f"{name} {self.phrase or self.op} {fmt(self.values[0])}"


@dataclass
class GroupComparison:
    """Two groups of one column compared on a statistic: `first` op `second`."""

    column: str
    first: object
    second: object
    #: ">" when the question asks whether the first is higher, "<" lower
    op: str
    #: the word the question compares with ("higher", "fewer")
    word: str


#: comparatives that compare two groups ("higher than where ..."), with the order they ask
COMPARATIVES = {
    **dict.fromkeys("higher greater larger bigger more exceed exceeds above".split(), ">"),
    **dict.fromkeys("lower smaller less fewer below".split(), "<"),
}


@dataclass
class Mention:
    """A column the question names, how fully, and where."""

    column: str
    score: float
    adjacent: int
    #: the places (in `TableQuestion.spans`) of its first and last word in the question
    start: int
    end: int
    #: the places of all its words
    at: tuple[int, ...] = ()


@dataclass
class TableQuestion:
    """What a question asks of one table."""

    df: pd.DataFrame
    question: str
    options: list[str]
    #: the question with camel-case words split ("lifeExp" -> "life Exp"), as columns are read
    text: str = ""
    #: the question's terms, as a set and in order with their places
    terms: set = field(default_factory=set)
    spans: list = field(default_factory=list)
    #: columns the question names, best named first
    mentions: list[Mention] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    #: the column whose values the options are (the answer is one of its cells)
    option_column: str | None = None
    #: the column the question asks "which ..." of ("Which species has ...")
    which_column: str | None = None
    #: columns named by a superlative rather than by name ("the oldest": age), with the word
    implied: dict[str, str] = field(default_factory=dict)
    #: what it asks: keys of ASKS, "aggregate" for "maximum"/"minimum" of a group, "quantity"
    #: for "most"/"fewest" (how many rows, when it names no numeric column)
    asks: set[str] = field(default_factory=set)
    #: how consecutive conditions (in the question's order) are joined: "and" or "or"
    joiners: list[str] = field(default_factory=list)
    #: two groups of one column compared ("mean X where G is 'a' higher than where G is 'b'")
    comparison: GroupComparison | None = None

    def rows(self) -> pd.Series:
        """The rows the conditions pick: "and" binds before "or", as in speech and SQL."""
        if not self.conditions:
            return pd.Series(True, index=self.df.index)
        groups: list[pd.Series] = []
        current = self.conditions[0].mask(self).fillna(False).astype(bool)
        for joiner, condition in zip(self.joiners, self.conditions[1:]):
            mask = condition.mask(self).fillna(False).astype(bool)
            if joiner == "or":
                groups.append(current)
                current = mask
            else:
                current = current & mask
        groups.append(current)
        out = groups[0]
        for g in groups[1:]:
            out = out | g
        return out

    def where(self) -> str:
        """The conditions as a report line says them, with their joiners."""
        if not self.conditions:
            return ""
        parts = [self.conditions[0].text()]
        for joiner, condition in zip(self.joiners, self.conditions[1:]):
            parts += [joiner, condition.text()]
        return " ".join(parts)

    # --- the table's columns ----------------------------------------------------------------

    @cached_property
    def numeric(self) -> list[str]:
        return [
            c
            for c in self.df.columns
            if pd.api.types.is_numeric_dtype(self.df[c])
            and not pd.api.types.is_bool_dtype(self.df[c])
        ]

    @cached_property
    def stamps(self) -> dict[str, pd.Series]:
        """The date columns as dates: those read as dates, and text columns of dates written
        otherwise ("2012/01/31", "19-Sep-03"), parsed here while their cells stay as written."""
        out = {}
        for c in self.df.columns:
            col = self.df[c]
            if pd.api.types.is_datetime64_any_dtype(col):
                out[c] = col
            elif c not in self.numeric and not pd.api.types.is_bool_dtype(col):
                sample = col.dropna().head(20).astype(str)
                if sample.empty or not sample.str.fullmatch(_DATE_CELL).all():
                    continue
                for form in _DATE_FORMATS:
                    if pd.to_datetime(sample, errors="coerce", format=form).notna().all():
                        parsed = pd.to_datetime(col.astype(str), errors="coerce", format=form)
                        if parsed.notna().sum() >= 0.9 * col.notna().sum():
                            out[c] = parsed
                        break
        return out

    @property
    def dates(self) -> list[str]:
        return list(self.stamps)

    @cached_property
    def texts(self) -> list[str]:
        """Columns of text, dates written as text among them."""
        return [
            c
            for c in self.df.columns
            if c not in self.numeric and not pd.api.types.is_datetime64_any_dtype(self.df[c])
        ]

    @cached_property
    def _cells(self) -> dict[str, tuple[pd.Series, pd.Series]]:
        return {}

    def cells(self, column: str) -> tuple[pd.Series, pd.Series]:
        """A text column's distinct cells, and the same stripped and lower-cased."""
        if column not in self._cells:
            uniques = pd.Series(self.df[column].dropna().unique())
            self._cells[column] = (uniques, uniques.astype(str).str.strip().str.lower())
        return self._cells[column]

    @cached_property
    def nunique(self) -> dict[str, int]:
        return {c: int(self.df[c].nunique()) for c in self.df.columns}

    def is_unique(self, column: str) -> bool:
        values = self.df[column].dropna()
        return len(values) > 1 and self.nunique[column] == len(values)

    def is_categorical(self, column: str) -> bool:
        """Few distinct values, each shared by several rows: a column to group by."""
        n = self.nunique[column]
        rows = int(self.df[column].notna().sum())
        if n < 2 or n > MAX_GROUPS or n * 2 > rows:
            return False
        if column in self.numeric:
            integral = bool((self.df[column].dropna() % 1 == 0).all())
            return integral and (n <= 12 or self.named(column))
        return True

    def is_key_like(self, column: str) -> bool:
        """A column that identifies rows: named so ("name", "id", "year"), or unique text."""
        named = bool(set(name_terms(column)) & KEY_NAME_TERMS)
        if column in self.texts:
            return self.is_unique(column) or (named and self.nunique[column] * 2 > len(self.df))
        return named or (column in self.dates and self.is_unique(column))

    @cached_property
    def key_column(self) -> str | None:
        """The column that names a row: unique text (a name, an id) first, then a key-like
        column (a date, a year, an id number) with unique values, then a text column named
        as a name whose values mostly differ (car models, where a few repeat)."""
        ranked = sorted(
            (
                c
                for c in self.df.columns
                if self.is_key_like(c) and (self.is_unique(c) or c in self.texts)
            ),
            key=lambda c: (
                not self.is_unique(c),
                c not in self.texts,
                not (set(name_terms(c)) & KEY_NAME_TERMS),
                list(self.df.columns).index(c),
            ),
        )
        return ranked[0] if ranked else None

    # --- what the question names ------------------------------------------------------------

    @property
    def answer_column(self) -> str | None:
        """The column whose cell answers: the options' column, else the "which" column."""
        return self.option_column or self.which_column

    def named(self, column: str) -> bool:
        return any(m.column == column for m in self.mentions)

    def asked_numeric(self) -> list[str]:
        """The numeric columns the question asks about, as fully named as the best named
        column; not those it picks rows by ("flipper length 190") or answers with."""
        conditioned: set[str | None] = {c.column for c in self.conditions if c.op in ("==", "in")}
        conditioned.add(self.answer_column)
        named = [m for m in self.mentions if m.column in self.numeric]
        if not named:
            return []
        best = named[0].score  # "length" alone does not name bill length beside flipper length
        return [m.column for m in named if m.column not in conditioned and m.score >= best][:2]

    def asked_column(self) -> str | None:
        """The column the question is about: the options' column, else the best named one
        that is not a condition."""
        if self.answer_column is not None:
            return self.answer_column
        conditioned = {c.column for c in self.conditions}
        for m in self.mentions:
            if m.column not in conditioned:
                return m.column
        return None

    def group_column(self) -> str | None:
        """The column to compare groups of: the options' column when its values repeat, else
        a named column of few values that the question does not pick rows by."""
        conditioned = {c.column for c in self.conditions if c.op in ("==", "in")}
        answer = self.answer_column
        if answer is not None and answer not in conditioned:
            if self.is_categorical(answer) or self.is_unique(answer):
                return answer
        for m in self.mentions:
            if m.column in conditioned or m.column in self.asked_numeric():
                continue
            if self.is_categorical(m.column):
                return m.column
        return None


def _column_mentions(q: TableQuestion) -> list[Mention]:
    """The columns the question names: all or most of the words of a column's name (a
    statistic's name in it counting half), each said as is or, for an abbreviation ("pop",
    "exp"), as the start of a longer word ("population", "expectancy"), which counts less."""
    places: dict[str | float, list[int]] = {}
    for i, (t, _, _) in enumerate(q.spans):
        places.setdefault(t, []).append(i)
    words = [(u, i) for i, (u, _, _) in enumerate(q.spans) if isinstance(u, str)]

    def said(t: str | float) -> tuple[list[int], float]:
        if t in places:
            return places[t], 1.0
        if isinstance(t, str) and len(t) >= 3:
            return [i for u, i in words if len(u) > len(t) and u.startswith(t)], 0.75
        return [], 0.0

    found = []
    for column in q.df.columns:
        wanted = name_terms(str(column))
        if not wanted:
            continue
        weights = [0.5 if t in STAT_TERMS else 1.0 for t in wanted]
        seen = [said(t) for t in wanted]
        if not any(at and w == 1.0 for (at, _), w in zip(seen, weights)):
            continue
        score = sum(w * f for (at, f), w in zip(seen, weights) if at) / sum(weights)
        if score < 0.5:
            continue
        adjacent = sum(
            any(i + 1 in b_at for i in a_at) for (a_at, _), (b_at, _) in zip(seen, seen[1:])
        )
        # the occurrences nearest the first word that is not a statistic's name
        anchor = next(at[0] for (at, _), w in zip(seen, weights) if at and w == 1.0)
        at = tuple(min(found_at, key=lambda i: abs(i - anchor)) for found_at, _ in seen if found_at)
        found.append(Mention(str(column), score, adjacent, min(at), max(at), at))
    found.sort(key=lambda m: (-m.score, -m.adjacent, m.start))
    return found


def _plain_terms(text: str) -> list[str | float]:
    return terms(_UNIT.sub(" ", text))


def _value_matches(q: TableQuestion) -> list[tuple[str, object, int]]:
    """(column, value, length) of text cells the question names: the whole cell as written, or
    (for cells of words only) every word of the cell; the longer of overlapping names wins."""
    lowered = q.question.lower()
    raw = {w for w in re.findall(r"[a-z0-9]+", lowered) if w not in STOPWORDS and len(w) > 1}
    stems = {t for t in q.terms if isinstance(t, str) and len(t) > 1}
    if not raw:
        return []
    known = sorted(raw | stems | STOPWORDS, key=len, reverse=True)
    starts = r"\b(?:" + "|".join(re.escape(w) for w in known) + ")"
    found: list[tuple[str, object, frozenset, bool]] = []
    for column in q.texts:
        uniques, strings = q.cells(column)
        if uniques.empty:
            continue
        # candidates, cheaply: the cell is in the question as written, or each of its words
        # starts like a word of the question (the exact tests follow)
        inside = np.array([len(t) > 1 and t in lowered for t in strings.tolist()], dtype=bool)
        words_in = strings.str.count(starts).to_numpy() >= strings.str.count(r"[a-z0-9]+")
        for value in uniques[inside | words_in.to_numpy()].tolist():
            text = str(value).strip().lower()
            if len(text) < 2:
                continue
            whole = re.search(rf"(?<![\w]){re.escape(text)}(?![\w])", lowered) is not None
            cell = frozenset(_plain_terms(text))
            words = [t for t in cell if isinstance(t, str)]
            if words and all(t in ASKING_TERMS for t in words):
                continue  # "many" in "how many" names no cell
            if not words and (not whole or re.fullmatch(r"-?[\d.,]+", text)):
                continue  # a bare number is read as a number, not as a cell
            # every word of the cell in the question; short words ("UT") as written
            short = {w for w in re.findall(r"[a-z]+", _UNIT.sub(" ", text)) if len(w) < 4}
            by_words = (
                not any(ch.isdigit() for ch in text)
                and cell <= q.terms
                and short - STOPWORDS <= raw
            )
            if whole or by_words:
                found.append((column, value, cell, whole))
    # a cell named inside a longer named cell ("York" in "New York") is not named itself, and
    # words that name cells of two columns name one: of the column the question names, else
    # the cell named as written, else of the column with fewer values
    best: dict[frozenset, tuple[str, object, frozenset, bool]] = {}
    for match in found:
        column, _, cell, whole = match
        if any(cell < other for _, _, other, _ in found):
            continue
        rank = (q.named(column), whole, -q.nunique[column])
        kept = best.get(cell)
        if kept is None or rank > (q.named(kept[0]), kept[3], -q.nunique[kept[0]]):
            best[cell] = match
    return [(column, value, len(cell)) for column, value, cell, _ in best.values()]


def _dates_named(q: TableQuestion) -> list[tuple[pd.Timestamp, str, int, int]]:
    """The dates the question names, as written and where: "on 2007-11-11", "on March 5,
    2010"."""
    out = []
    for m in _DATE.finditer(q.text):
        stamp = pd.to_datetime(m.group().replace(",", ""), errors="coerce")
        if stamp is not pd.NaT and not pd.isna(stamp):
            out.append((stamp.normalize(), m.group(), m.start(), m.end()))
    return out


def _option_column(q: TableQuestion) -> str | None:
    """The column whose cells the options are (most options met), if one is."""
    options = [o.strip().lower() for o in q.options if o.strip()]
    if len(options) < 2:
        return None
    best, best_hits = None, 0
    for column in q.df.columns:
        if column in q.numeric and not (
            (q.is_key_like(column) or q.is_categorical(column))
            and (q.df[column].dropna() % 1 == 0).all()
        ):
            continue
        if column in q.numeric:
            cells = pd.Series([fmt(v) for v in q.df[column].dropna().unique()], dtype=object)
        elif column not in q.texts:
            cells = q.df[column].dropna().dt.strftime("%Y-%m-%d")
        else:
            cells = q.cells(column)[1]
        hits = len(set(cells[cells.isin(options)]))
        if hits > best_hits:
            best, best_hits = column, hits
    return best if best_hits >= max(2, len(options) - 1) else None


def _numbers_named(q: TableQuestion, taken: list[tuple[int, int]]) -> list[tuple[float, int]]:
    out = []
    for m in _NUMBER.finditer(q.text.lower()):
        if any(a <= m.start() < b for a, b in taken):
            continue
        out.append((float(m.group().replace(",", "")), m.start()))
    return out


def _nearest_column(q: TableQuestion, columns: list[str], at: int) -> str | None:
    """Of `columns` the question names, the one named before character `at` (else after) most
    fully, then nearest: "bill length above 40 and body mass below 4000"."""
    ranked = []
    for m in q.mentions:
        if m.column not in columns:
            continue
        where = q.spans[m.end][1]
        ranked.append((where > at, -m.score, abs(at - where), m.column))
    return min(ranked)[-1] if ranked else None


def parse(df: pd.DataFrame, question: str, options: list[str]) -> TableQuestion:
    q = TableQuestion(df, question, list(options))
    # "lifeExp" and "gdpPercap" are words to a reader of column names
    q.text = _CAMEL.sub(" ", question)
    # the words of a column named by stop words alone ("value") name it in the question too
    kept = {
        w for c in df.columns if not terms(str(c)) for w in re.findall(r"[a-z]+", str(c).lower())
    }
    q.spans = term_spans(q.text, STOPWORDS - kept)
    q.terms = {t for t, _, _ in q.spans} | set(terms(question))
    q.mentions = _column_mentions(q)
    q.option_column = _option_column(q)
    lowered = q.text.lower()
    for m in q.mentions:
        before = lowered[: q.spans[m.start][1]].split()
        while before and before[-1] in ("is", "was", "are", "were", "the", "a", "an", "'s"):
            before.pop()  # "What was the last name ..."
        if before and before[-1] in ("which", "what"):
            q.which_column = m.column
            break

    # comparisons: "body mass above 4000" (on the nearest numeric column named)
    taken = []
    for op, a, b, phrase, start, end in comparisons(q.text):
        column = (
            _nearest_column(q, q.numeric + q.dates, start)
            or _implied_column(q, phrase)
            or _column_in_range(q, a)
        )
        if column is None:
            continue
        taken.append((start, end))
        if column in q.dates:
            if math.isnan(a) or not 1000 <= a <= 9999:
                continue
            years = (int(a), int(b)) if op == "between" and b is not None else (int(a),)
            q.conditions.append(Condition(column, op, years, phrase, by_year=True, at=start))
            continue
        if math.isnan(a):
            ref = phrase.rsplit(" ", 1)[-1]
            a = float(q.df[column].mean() if ref == "mean" else q.df[column].median())
        bounds = (a, b) if op == "between" else (a,)
        q.conditions.append(Condition(column, op, bounds, phrase, at=start))

    # what it asks, from the words that do not name a column or make a comparison: "temp max"
    # names a column, "at least 3" compares, neither asks for a maximum or a minimum
    asking = list(q.text.lower())
    spans = [(start, end) for _, _, _, _, start, end in comparisons(q.text)] + [
        (q.spans[i][1], q.spans[i][2]) for m in q.mentions if m.score == 1.0 for i in m.at
    ]
    for lo, hi in spans:
        asking[lo:hi] = " " * (hi - lo)
    asking_text = "".join(asking)
    asking_terms = set(terms(asking_text))
    q.asks = {ask for ask, words in ASKS.items() if words & asking_terms}
    asking_words = set(re.findall(r"[a-z]+", asking_text))
    if asking_words & set(AGGREGATE_WORDS):
        q.asks.add("aggregate")
    if asking_words & QUANTITY_WORDS:
        q.asks.add("quantity")
    if "%" in question:
        q.asks.add("percent")
    _superlatives(q)

    # cells named: "female", "Biscoe", "N1A1", and any cell the question quotes ('B');
    # options' own values are answers, not conditions
    option_cells = {o.strip().lower() for o in options}
    by_column: dict[str, list] = {}
    matches = _value_matches(q)
    named = {(c, str(v).strip().lower()) for c, v, _ in matches}
    matches += [m for m in _quoted_cells(q) if (m[0], str(m[1]).strip().lower()) not in named]
    for column, value, _ in matches:
        if column == q.option_column and str(value).strip().lower() in option_cells:
            continue
        by_column.setdefault(column, []).append(value)
    for column, values in by_column.items():
        at = min(_position(lowered, v) for v in values)
        if len(values) == 1:
            q.conditions.append(Condition(column, "==", (values[0],), at=at))
        else:
            q.conditions.append(Condition(column, "in", tuple(values), at=at))

    # dates named: "on 2007-11-11"
    for stamp, written, start, end in _dates_named(q):
        taken.append((start, end))  # its day and year are not numbers of their own
        for column in q.dates:
            if any(c.column == column for c in q.conditions):
                continue
            if (q.stamps[column].dt.normalize() == stamp).any():
                # said as the question says it: the line then shares the question's words
                q.conditions.append(
                    Condition(column, "==", (stamp,), written, as_date=True, at=start)
                )
                break

    # numbers named that are not thresholds or part of a cell named: a year, an id ("in 1987")
    in_cells = {
        t for c in q.conditions if c.column in q.texts for v in c.values for t in terms(str(v))
    }
    for x, at in _numbers_named(q, taken):
        if x in in_cells:
            continue
        column = _number_column(q, x)
        if column is not None and not any(c.column == column for c in q.conditions):
            if column in q.dates:
                q.conditions.append(Condition(column, "==", (int(x),), by_year=True, at=at))
            else:
                q.conditions.append(Condition(column, "==", (x,), at=at))
    _join(q, lowered)
    _group_comparison(q, lowered)
    return q


def _position(lowered: str, value: object) -> int:
    """Where the question names a cell (its first word when it is named by its words)."""
    text = str(value).strip().lower()
    at = lowered.find(text)
    if at < 0:
        words = re.findall(r"[a-z0-9]+", text)
        at = lowered.find(words[0]) if words else -1
    return at if at >= 0 else len(lowered)


def _quoted_cells(q: TableQuestion) -> list[tuple[str, object, int]]:
    """Cells the question quotes ("A equal to 'B'"), of any length, matched whole: a quote
    names a value exactly, however short. The column named nearest before the quote wins."""
    out = []
    for m in re.finditer(r"(?<![\w])['\"‘“](?P<v>[^'\"’”]{1,60})['\"’”](?![\w])", q.text):
        wanted = m.group("v").strip().lower()
        holders = [c for c in q.texts if (q.cells(c)[1] == wanted).any()]
        if not holders:
            continue
        before = [
            (q.spans[mention.end][1], mention.column)
            for mention in q.mentions
            if mention.column in holders and q.spans[mention.end][1] < m.start()
        ]
        column = max(before)[1] if before else holders[0]
        uniques, strings = q.cells(column)
        out.append((column, uniques[(strings == wanted).to_numpy()].iloc[0], len(wanted)))
    return out


def _join(q: TableQuestion, lowered: str) -> None:
    """The conditions in the question's order, and the word between each two: "or" where the
    question says or (and not and) between them, else "and"."""
    q.conditions.sort(key=lambda c: c.at if c.at >= 0 else len(lowered))
    q.joiners = []
    for a, b in zip(q.conditions, q.conditions[1:]):
        between = lowered[max(0, a.at) : max(0, b.at)]
        said_or = re.search(r"\bor\b", between) is not None
        q.joiners.append("or" if said_or and not re.search(r"\band\b", between) else "and")


def _group_comparison(q: TableQuestion, lowered: str) -> None:
    """ "Is the mean X where G is 'a' higher than where G is 'b'?": two cells of one column
    and a comparative that no number follows make a comparison of two groups, not a filter
    of the rows in either."""
    numeric_spans = [(start, end) for *_, start, end in comparisons(q.text)]
    said = [
        (m.start(), m.group())
        for m in re.finditer(r"[a-z]+", lowered)
        if m.group() in COMPARATIVES and not any(a <= m.start() < b for a, b in numeric_spans)
    ]
    if not said:
        return
    for i, condition in enumerate(q.conditions):
        if condition.op != "in" or len(condition.values) != 2 or condition.column not in q.texts:
            continue
        first, second = sorted(condition.values, key=lambda v: _position(lowered, v))
        word = said[0][1]
        q.comparison = GroupComparison(condition.column, first, second, COMPARATIVES[word], word)
        del q.conditions[i]
        _join(q, lowered)
        return
    _halves_compared(q, *said[0])


def _halves_compared(q: TableQuestion, at: int, word: str) -> None:
    """ "Do rows with G equal to 3 have a lower mean X than rows with G equal to 5?": a group
    key of any type (a number too) on each side of the comparative, each side read as a
    question of its own, so that the second side's condition is not given to another column."""
    if q.comparison is not None:
        return
    sides = [parse(q.df, q.text[:at], []), parse(q.df, q.text[at + len(word) :], [])]
    keys = [{c.column: c.values[0] for c in side.conditions if _one_value(c)} for side in sides]
    shared = [c for c in keys[0] if c in keys[1] and keys[0][c] != keys[1][c]]
    if not shared:
        return
    column = shared[0]
    q.comparison = GroupComparison(
        column, keys[0][column], keys[1][column], COMPARATIVES[word], word
    )
    # the conditions the two sides name are the groups, not filters of the rows
    q.conditions = [c for c in q.conditions if c.at < at and c.column != column]
    _join(q, q.text.lower())


def _one_value(c: Condition) -> bool:
    return (c.op == "==" or (c.op == "in" and len(c.values) == 1)) and not (c.by_year or c.as_date)


def _superlatives(q: TableQuestion) -> None:
    """ "Who is the oldest?" ranks by age: when the question names no numeric column to rank
    by, a superlative that names one adds it (as named, a little less fully) and its end."""
    if q.asked_numeric():
        return
    for i, (_, start, end) in enumerate(q.spans):
        word = q.text[start:end].lower()
        if word not in SUPERLATIVES:
            continue
        end_asked, names = SUPERLATIVES[word]
        for name in names:
            column = next((c for c in q.numeric + q.dates if term(name) in name_terms(c)), None)
            if column is not None and column not in q.implied:
                q.mentions.append(Mention(column, 0.75, 0, i, i, (i,)))
                q.implied[column] = word
                q.asks.add(end_asked)
                return


def _implied_column(q: TableQuestion, phrase: str) -> str | None:
    """The column a comparison's own word measures when no column is named: "older than 65"
    compares an age, "heavier than" a weight or mass."""
    wanted = IMPLIED_COLUMNS.get(phrase.split()[0], ())
    for name in wanted:
        for column in q.numeric + q.dates:
            if term(name) in name_terms(column):
                return column
    return None


def _column_in_range(q: TableQuestion, x: float) -> str | None:
    """For a comparison whose column the question does not name ("released before 1990"):
    the one key-like numeric column (a year) or date column whose values span the number."""
    if math.isnan(x):
        return None
    spans = [c for c in q.numeric if q.is_key_like(c) and q.df[c].min() <= x <= q.df[c].max()]
    if not spans and x.is_integer() and 1000 <= x <= 9999:
        spans = [c for c in q.dates if q.stamps[c].dt.year.min() <= x <= q.stamps[c].dt.year.max()]
    return spans[0] if len(spans) == 1 else None


def _number_column(q: TableQuestion, x: float) -> str | None:
    """The column a bare number in the question picks rows of: a key-like column (a year, an
    id) or a named one holding that value; a date column for a year."""
    candidates = []
    for column in q.numeric:
        if not (q.is_key_like(column) or q.named(column)):
            continue
        if column == q.option_column:
            continue
        if (q.df[column] == x).any():
            candidates.append(column)
    if candidates:
        candidates.sort(key=lambda c: (not q.named(c), not q.is_key_like(c)))
        return candidates[0]
    if x.is_integer() and 1000 <= x <= 9999:
        for column in q.dates:
            if (q.stamps[column].dt.year == x).any():
                return column
    return None
